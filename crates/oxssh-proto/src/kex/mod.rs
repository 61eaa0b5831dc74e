//! Key exchange: negotiation (kex/mod.rs) and methods (kex/methods.rs).
pub mod methods;
