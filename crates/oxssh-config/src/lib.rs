//! oxssh-config (being written).
