//! `-M screen` against OpenSSH: the same candidates give the same moduli lines (less
//! the timestamp), with `lines=`, `start-line=` and `checkpoint=`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use oxssh_testkit::{Cmd, TempHome, ours, require_openssh};

/// RFC 3526 group 14 (a safe prime), a corrupted copy (composite), and a comment.
const P14: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

#[test]
fn screening_matches_openssh() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let input = d.join("candidates");
    std::fs::write(
        &input,
        format!(
            "# candidates\n20160301052556 2 6 100 2047 2 {P14}\n20160301052556 2 6 100 2047 2 {}\n20160301052556 0 0 0 2047 0 {P14}\n",
            P14.replace("C90F", "C90D")
        ),
    )
    .unwrap();
    let input = input.to_string_lossy().into_owned();
    for opts in [
        &[][..],
        &["-O", "lines=2"],
        &["-O", "start-line=2"],
        &["-O", "generator=5"],
        &["-O", "checkpoint=CK", "-O", "prime-tests=10"],
    ] {
        let mut outs = Vec::new();
        for (bin, who) in [(&theirs, "theirs"), (&mine, "ours")] {
            let out = d.join(format!("out-{who}"));
            let _ = std::fs::remove_file(&out);
            let ck = d.join(format!("ck-{who}")).to_string_lossy().into_owned();
            let opts: Vec<String> = opts.iter().map(|o| o.replace("CK", &ck)).collect();
            let mut args = vec!["-M", "screen", "-f", &input];
            args.extend(opts.iter().map(String::as_str));
            let o = out.to_string_lossy().into_owned();
            args.push(&o);
            Cmd::new(bin).args(&args).run().assert_success();
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let lines: Vec<String> = text
                .lines()
                .map(|l| l.split_once(' ').unwrap().1.to_owned())
                .collect();
            outs.push(lines);
        }
        assert_eq!(outs[0], outs[1], "{opts:?}");
    }
}
