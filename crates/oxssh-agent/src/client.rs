//! The agent client: one Unix-socket connection to an agent, one request at a time
//! (`PROTOCOL.agent`: requests are answered in order). Used by `ssh` to list the keys
//! the agent holds and to have it sign user-authentication data.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::{Error, Identity, Request, Response, frame_len};

/// A connection to an agent.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Connect to the agent listening on `path` (`SSH_AUTH_SOCK`).
    pub async fn connect(path: impl AsRef<Path>) -> Result<Client, Error> {
        Ok(Client {
            stream: UnixStream::connect(path).await?,
        })
    }

    /// Send one request and read its answer.
    pub async fn call(&mut self, req: &Request) -> Result<Response, Error> {
        self.stream.write_all(&req.encode()).await?;
        let mut header = [0u8; 4];
        self.stream.read_exact(&mut header).await?;
        let mut body = vec![0u8; frame_len(header)?];
        self.stream.read_exact(&mut body).await?;
        Response::decode(&body)
    }

    /// The keys the agent holds (`SSH_AGENTC_REQUEST_IDENTITIES`).
    pub async fn identities(&mut self) -> Result<Vec<Identity>, Error> {
        match self.call(&Request::RequestIdentities).await? {
            Response::Identities(ids) => Ok(ids),
            Response::Failure => Err(Error::Refused),
            _ => Err(Error::Unexpected(crate::SSH_AGENT_SUCCESS)),
        }
    }

    /// Have the agent sign `data` with the key `key_blob`; `flags` select the RSA hash
    /// ([`crate::sign_flags`]). Returns the signature blob (`string alg || string sig`).
    pub async fn sign(
        &mut self,
        key_blob: &[u8],
        data: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>, Error> {
        let req = Request::Sign {
            key_blob: key_blob.to_vec(),
            data: data.to_vec(),
            flags,
        };
        match self.call(&req).await? {
            Response::Signature(sig) => Ok(sig),
            Response::Failure => Err(Error::Refused),
            Response::Success => Err(Error::Unexpected(crate::SSH_AGENT_SUCCESS)),
            Response::Identities(_) => Err(Error::Unexpected(crate::SSH_AGENT_IDENTITIES_ANSWER)),
        }
    }
}

/// The same client over a blocking socket, for tools without an async runtime
/// (`ssh-keygen -U`, `-Y sign`).
pub mod blocking {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    use std::time::Duration;

    use crate::{Error, Identity, Request, Response, frame_len};

    #[derive(Debug)]
    pub struct Client {
        stream: UnixStream,
    }

    impl Client {
        /// Connect to the agent on `path`; an agent that stalls fails after 30 s.
        pub fn connect(path: impl AsRef<Path>) -> Result<Client, Error> {
            let stream = UnixStream::connect(path)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            Ok(Client { stream })
        }

        pub fn call(&mut self, req: &Request) -> Result<Response, Error> {
            self.stream.write_all(&req.encode())?;
            let mut header = [0u8; 4];
            self.stream.read_exact(&mut header)?;
            let mut body = vec![0u8; frame_len(header)?];
            self.stream.read_exact(&mut body)?;
            Response::decode(&body)
        }

        pub fn identities(&mut self) -> Result<Vec<Identity>, Error> {
            match self.call(&Request::RequestIdentities)? {
                Response::Identities(ids) => Ok(ids),
                Response::Failure => Err(Error::Refused),
                _ => Err(Error::Unexpected(crate::SSH_AGENT_SUCCESS)),
            }
        }

        pub fn sign(&mut self, key_blob: &[u8], data: &[u8], flags: u32) -> Result<Vec<u8>, Error> {
            let req = Request::Sign {
                key_blob: key_blob.to_vec(),
                data: data.to_vec(),
                flags,
            };
            match self.call(&req)? {
                Response::Signature(sig) => Ok(sig),
                Response::Failure => Err(Error::Refused),
                Response::Success => Err(Error::Unexpected(crate::SSH_AGENT_SUCCESS)),
                Response::Identities(_) => {
                    Err(Error::Unexpected(crate::SSH_AGENT_IDENTITIES_ANSWER))
                }
            }
        }
    }
}
