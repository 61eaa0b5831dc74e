//! Key fingerprints as ssh-keygen(1) prints them: `SHA256:<base64, no padding>` and
//! `MD5:<hex:pairs>`, the "drunken bishop" randomart picture (OpenSSH `sshkey.c`
//! `fingerprint_randomart`), the Bubble Babble encoding (`-B`, over SHA-1), key sizes
//! and the type labels shown in brackets (`(ED25519)`).
//!
//! Works on public key data only; reading key files is `keyfile`'s business.

use base64ct::{Base64Unpadded, Encoding};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use ssh_key::public::KeyData;

/// A fingerprint hash (`-E`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpHash {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl FpHash {
    /// Parse `-E` arguments the way OpenSSH does (case-insensitive).
    pub fn parse(s: &str) -> Option<FpHash> {
        match s.to_ascii_lowercase().as_str() {
            "md5" => Some(FpHash::Md5),
            "sha1" => Some(FpHash::Sha1),
            "sha256" => Some(FpHash::Sha256),
            "sha384" => Some(FpHash::Sha384),
            "sha512" => Some(FpHash::Sha512),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            FpHash::Md5 => "MD5",
            FpHash::Sha1 => "SHA1",
            FpHash::Sha256 => "SHA256",
            FpHash::Sha384 => "SHA384",
            FpHash::Sha512 => "SHA512",
        }
    }
}

/// The wire blob of a public key (`string type || fields`).
pub fn blob(key: &KeyData) -> Vec<u8> {
    use ssh_key::encoding::Encode;
    let mut v = Vec::new();
    // Encoding into a Vec cannot fail for a parsed key.
    let _ = key.encode(&mut v);
    v
}

/// The raw digest of `data` (a key blob) with `hash`, as SSHFP records and KRLs use.
pub fn raw_digest(hash: FpHash, data: &[u8]) -> Vec<u8> {
    digest(hash, data)
}

fn digest(hash: FpHash, data: &[u8]) -> Vec<u8> {
    match hash {
        FpHash::Md5 => Md5::digest(data).to_vec(),
        FpHash::Sha1 => Sha1::digest(data).to_vec(),
        FpHash::Sha256 => Sha256::digest(data).to_vec(),
        FpHash::Sha384 => sha2::Sha384::digest(data).to_vec(),
        FpHash::Sha512 => Sha512::digest(data).to_vec(),
    }
}

/// `SHA256:…` / `MD5:aa:bb:…` for a key.
pub fn fingerprint(key: &KeyData, hash: FpHash) -> String {
    let d = digest(hash, &blob(key));
    match hash {
        FpHash::Md5 => {
            let hex: Vec<String> = d.iter().map(|b| format!("{b:02x}")).collect();
            format!("MD5:{}", hex.join(":"))
        }
        _ => format!("{}:{}", hash.label(), Base64Unpadded::encode_string(&d)),
    }
}

/// The size ssh-keygen reports: modulus bits for RSA/DSA, curve size for ECDSA.
pub fn bits(key: &KeyData) -> u32 {
    use ssh_key::public::EcdsaPublicKey;
    let mpint_bits = |m: &ssh_key::Mpint| {
        let b = m.as_positive_bytes().unwrap_or_default();
        let lead = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        let rest = b.get(lead..).unwrap_or_default();
        match rest.first() {
            Some(&f) => {
                let len = u32::try_from(rest.len()).unwrap_or(u32::MAX / 8);
                (len - 1) * 8 + (8 - f.leading_zeros())
            }
            None => 0,
        }
    };
    match key {
        KeyData::Rsa(k) => mpint_bits(k.n()),
        KeyData::Dsa(k) => mpint_bits(k.p()),
        KeyData::Ecdsa(EcdsaPublicKey::NistP256(_)) => 256,
        KeyData::Ecdsa(EcdsaPublicKey::NistP384(_)) => 384,
        KeyData::Ecdsa(EcdsaPublicKey::NistP521(_)) => 521,
        KeyData::SkEcdsaSha2NistP256(_) => 256,
        _ => 256,
    }
}

/// The type label of `-l` output and randomart headers: `ED25519`, `RSA`, `ECDSA`…
pub fn type_label(key: &KeyData) -> &'static str {
    match key {
        KeyData::Rsa(_) => "RSA",
        KeyData::Dsa(_) => "DSA",
        KeyData::Ecdsa(_) => "ECDSA",
        KeyData::Ed25519(_) => "ED25519",
        KeyData::SkEd25519(_) => "ED25519-SK",
        KeyData::SkEcdsaSha2NistP256(_) => "ECDSA-SK",
        _ => "unknown",
    }
}

/// The label for a certificate of a key of this type (`ED25519-CERT`).
pub fn cert_type_label(key: &KeyData) -> String {
    format!("{}-CERT", type_label(key))
}

const FLD_X: usize = 17;
const FLD_Y: usize = 9;
const SYMBOLS: &[u8] = b" .o+=*BOX@%&#/^SE";

/// The randomart picture for `key`, exactly as ssh-keygen draws it (no trailing newline).
pub fn randomart(key: &KeyData, hash: FpHash, title_label: &str) -> String {
    let d = digest(hash, &blob(key));
    let mut title = format!("[{} {}]", title_label, bits(key));
    // OpenSSH's title buffer holds FLDSIZE_X bytes: "[type size]" that does not fit
    // becomes "[type]" (so "[ED25519-CERT]"), cut to what the buffer holds.
    if title.len() > FLD_X {
        title = format!("[{title_label}]");
        title.truncate(FLD_X - 1);
    }
    draw(&d, &title, &format!("[{}]", hash.label()))
}

fn draw(digest: &[u8], title: &str, footer: &str) -> String {
    let top = SYMBOLS.len() - 1; // 'E', the end; 'S' is top-1
    let mut field = [[0usize; FLD_Y]; FLD_X];
    let (mut x, mut y) = (FLD_X / 2, FLD_Y / 2);
    for &byte in digest {
        let mut input = byte;
        for _ in 0..4 {
            x = if input & 1 != 0 {
                (x + 1).min(FLD_X - 1)
            } else {
                x.saturating_sub(1)
            };
            y = if input & 2 != 0 {
                (y + 1).min(FLD_Y - 1)
            } else {
                y.saturating_sub(1)
            };
            if let Some(c) = field.get_mut(x).and_then(|col| col.get_mut(y))
                && *c < top - 2
            {
                *c += 1;
            }
            input >>= 2;
        }
    }
    if let Some(c) = field
        .get_mut(FLD_X / 2)
        .and_then(|col| col.get_mut(FLD_Y / 2))
    {
        *c = top - 1;
    }
    if let Some(c) = field.get_mut(x).and_then(|col| col.get_mut(y)) {
        *c = top;
    }
    let bar = |label: &str| {
        // OpenSSH truncates an over-long title to the field width.
        let label: String = label.chars().take(FLD_X).collect();
        let n = label.chars().count();
        let left = (FLD_X - n) / 2;
        format!(
            "+{}{}{}+",
            "-".repeat(left),
            label,
            "-".repeat(FLD_X - n - left)
        )
    };
    let mut out = bar(title);
    out.push('\n');
    for row in 0..FLD_Y {
        out.push('|');
        for col in &field {
            let v = col.get(row).copied().unwrap_or(0);
            out.push(char::from(SYMBOLS.get(v).copied().unwrap_or(b'?')));
        }
        out.push_str("|\n");
    }
    out.push_str(&bar(footer));
    out
}

/// Bubble Babble (`-B`) of the SHA-1 of the key blob.
pub fn bubblebabble(key: &KeyData) -> String {
    let raw = Sha1::digest(blob(key)).to_vec();
    bubblebabble_bytes(&raw)
}

fn bubblebabble_bytes(raw: &[u8]) -> String {
    const V: &[u8] = b"aeiouy";
    const C: &[u8] = b"bcdfghklmnprstvzx";
    let at = |s: &[u8], i: usize| char::from(s.get(i).copied().unwrap_or(b'?'));
    let byte = |i: usize| usize::from(raw.get(i).copied().unwrap_or(0));
    let len = raw.len();
    let rounds = len / 2 + 1;
    let mut seed = 1usize;
    let mut out = String::from("x");
    for i in 0..rounds {
        if i + 1 < rounds || !len.is_multiple_of(2) {
            let b0 = byte(2 * i);
            out.push(at(V, (((b0 >> 6) & 3) + seed) % 6));
            out.push(at(C, (b0 >> 2) & 15));
            out.push(at(V, ((b0 & 3) + seed / 6) % 6));
            if i + 1 < rounds {
                let b1 = byte(2 * i + 1);
                out.push(at(C, (b1 >> 4) & 15));
                out.push('-');
                out.push(at(C, b1 & 15));
                seed = (seed * 5 + b0 * 7 + b1) % 36;
            }
        } else {
            out.push(at(V, seed % 6));
            out.push(at(C, 16));
            out.push(at(V, seed / 6));
        }
    }
    out.push('x');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMx0dMRDOL+uC2RkfxTgldSm5W9Fk6TTQ/6HUVABSuTg a b";

    fn key() -> KeyData {
        ssh_key::PublicKey::from_openssh(K)
            .unwrap()
            .key_data()
            .clone()
    }

    // Expected values printed by OpenSSH 9.2p1's ssh-keygen for the key above.
    #[test]
    fn matches_openssh() {
        let k = key();
        assert_eq!(
            fingerprint(&k, FpHash::Sha256),
            "SHA256:/VmkV5KBWhF0C4ol0UYuwGXFsyxSt922Em43J9g7rUc"
        );
        assert_eq!(
            fingerprint(&k, FpHash::Md5),
            "MD5:52:b8:8e:a2:00:2e:c4:f6:fc:ef:4d:6f:6f:17:76:5a"
        );
        assert_eq!(
            bubblebabble(&k),
            "xefeh-goriz-zelob-goban-sycad-namob-fuzus-mepof-fimal-dupyb-zyxex"
        );
        let art = "\
+--[ED25519 256]--+
|     ...=*+.=+o  |
|      .o.=*.oo + |
|       .o+oB .= .|
|      . .o= oooo |
|       .S....=o. |
|           .=+* E|
|           .oo B |
|              o o|
|              .+ |
+----[SHA256]-----+";
        assert_eq!(randomart(&k, FpHash::Sha256, "ED25519"), art);
    }
}
