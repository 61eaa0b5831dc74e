//! Our agent client against OpenSSH's `ssh-agent`, keys loaded with OpenSSH's
//! `ssh-add`: the identities listed are the keys added (blob and comment), and the
//! signatures made on request verify, with the RSA SHA-2 flags honoured.

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used)]

use oxssh_agent::{Client, Error, SSH_AGENT_RSA_SHA2_256, SSH_AGENT_RSA_SHA2_512, sign_flags};
use oxssh_proto::hostkey::{self, SigAlg};
use oxssh_proto::wire::Reader;
use oxssh_testkit::{Key, OpenSshAgent, TempHome, require_openssh};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn sig_name(sig: &[u8]) -> String {
    String::from_utf8(Reader::new(sig).string().unwrap().to_vec()).unwrap()
}

#[test]
fn lists_and_signs_with_openssh_agent() {
    let (Some(agent_bin), Some(ssh_add)) =
        (require_openssh("ssh-agent"), require_openssh("ssh-add"))
    else {
        return;
    };
    let home = TempHome::new();
    let agent = OpenSshAgent::start(&agent_bin, home.path());
    let ed = ssh_key::PublicKey::from_openssh(&Key::Ed25519.public()).unwrap();
    let rsa = ssh_key::PublicKey::from_openssh(&Key::Rsa3072.public()).unwrap();
    agent.add(&ssh_add, &home.install_key(Key::Ed25519));
    agent.add(&ssh_add, &home.install_key(Key::Rsa3072));
    block_on(async {
        let mut c = Client::connect(agent.sock()).await.unwrap();
        let ids = c.identities().await.unwrap();
        let blobs: Vec<Vec<u8>> = ids.iter().map(|i| i.key_blob.clone()).collect();
        assert_eq!(
            blobs,
            [hostkey::public_blob(&ed), hostkey::public_blob(&rsa)]
        );
        assert_eq!(ids[0].comment, Key::Ed25519.comment());

        let data = b"session id and request".to_vec();
        let sig = c.sign(&blobs[0], &data, 0).await.unwrap();
        hostkey::verify(SigAlg::Ed25519, &blobs[0], &data, &sig).unwrap();

        for (flags, alg) in [
            (SSH_AGENT_RSA_SHA2_512, SigAlg::RsaSha512),
            (SSH_AGENT_RSA_SHA2_256, SigAlg::RsaSha256),
        ] {
            assert_eq!(sign_flags(alg.name()), flags);
            let sig = c.sign(&blobs[1], &data, flags).await.unwrap();
            assert_eq!(sig_name(&sig), alg.name());
            hostkey::verify(alg, &blobs[1], &data, &sig).unwrap();
        }

        // A key the agent does not hold: refused, and the connection stays usable.
        let other = ssh_key::PublicKey::from_openssh(&Key::Ecdsa256.public()).unwrap();
        let r = c.sign(&hostkey::public_blob(&other), &data, 0).await;
        assert!(matches!(r, Err(Error::Refused)), "{r:?}");
        assert_eq!(c.identities().await.unwrap().len(), 2);
    });
}

#[test]
fn no_agent_is_an_io_error() {
    let home = TempHome::new();
    let r = block_on(Client::connect(home.path().join("nonexistent")));
    assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
}
