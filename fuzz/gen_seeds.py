#!/usr/bin/env python3
"""Regenerate the seed corpora under fuzz/corpus/<target>/ (a handful of small, valid
inputs per target). Standard library only; the certificate, KRL, SSHSIG, key-format
and signature seeds are made by the real OpenSSH ssh-keygen (Debian's openssh-client)
from the fixture keys in tests/fixtures/keys, so they are what OpenSSH writes.

usage: python3 fuzz/gen_seeds.py     (from anywhere; rewrites fuzz/corpus/)

Seeds are inputs, not expectations: regenerating them changes bytes (fresh nonces,
signatures, salts) but not what they exercise. Keep each directory to a few small
files; the corpus a fuzzing run grows goes to a scratch directory (see README.md).
"""

import base64
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "keys")
CORPUS = os.path.join(HERE, "corpus")


# ----- SSH wire encoding (RFC 4251 §5) -----

def u8(v):
    return bytes([v])


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def string(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def mpint(n):
    if n == 0:
        return u32(0)
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if b[0] & 0x80:
        b = b"\0" + b
    return string(b)


def name_list(names):
    return string(",".join(names))


def packet(payload):
    """An unencrypted binary packet (RFC 4253 §6), block size 8, fixed padding."""
    pad = 8 - (5 + len(payload)) % 8
    if pad < 4:
        pad += 8
    return u32(1 + len(payload) + pad) + u8(pad) + payload + b"\0" * pad


def frame16(b):
    return struct.pack(">H", len(b)) + b


# ----- output -----

written = {}


def seed(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written[target] = written.get(target, 0) + 1


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def pub_blob(line):
    return base64.b64decode(line.split()[1])


def keygen(*args, cwd, stdin=None):
    subprocess.run(["ssh-keygen", "-q", *args], cwd=cwd, check=True, input=stdin,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ----- protocol messages -----

KEXINIT, NEWKEYS, KEXDH_INIT, KEXDH_REPLY = 20, 21, 30, 31
GEX_GROUP, GEX_INIT, GEX_REPLY, GEX_REQUEST = 31, 32, 33, 34

P256_G = bytes.fromhex(
    "04"
    "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
    "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5")


def kexinit(kex, hostkey, cipher=("aes128-ctr", "chacha20-poly1305@openssh.com"),
            mac=("hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"),
            comp=("none",), follows=False):
    m = u8(KEXINIT) + bytes(range(16))
    m += name_list(kex) + name_list(hostkey)
    m += name_list(cipher) * 2 + name_list(mac) * 2 + name_list(comp) * 2
    m += name_list([]) * 2 + u8(1 if follows else 0) + u32(0)
    return m


def moduli_group():
    """A 2048-bit safe prime and its generator from the system's moduli file."""
    with open("/etc/ssh/moduli") as f:
        for line in f:
            p = line.split()
            if len(p) == 7 and p[4] == "2047":
                return int(p[6], 16), int(p[5], 16)
    raise SystemExit("no 2048-bit group in /etc/ssh/moduli")


def transport_seeds(ed_blob):
    v_client = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"
    v_server = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"
    strict_c = ["ext-info-c", "kex-strict-c-v00@openssh.com"]
    strict_s = ["ext-info-s", "kex-strict-s-v00@openssh.com"]
    hk = ["ssh-ed25519", "ecdsa-sha2-nistp256"]

    # The fuzzer as a client, against our server.
    def client(kex, init, extra=b""):
        return (v_client + packet(kexinit([kex] + strict_c, hk)) + packet(init)
                + packet(u8(NEWKEYS)) + extra)
    s = "proto_transport_server"
    seed(s, "curve25519", b"\0" + client("curve25519-sha256", u8(KEXDH_INIT) + string(bytes(range(32)))))
    seed(s, "curve25519_cut7", b"\x07" + client("curve25519-sha256", u8(KEXDH_INIT) + string(bytes(range(32)))))
    seed(s, "ecdh_p256", b"\0" + client("ecdh-sha2-nistp256", u8(KEXDH_INIT) + string(P256_G)))
    seed(s, "dh_group14", b"\0" + client("diffie-hellman-group14-sha256", u8(KEXDH_INIT) + mpint(2)))
    seed(s, "mlkem768x25519", b"\0" + client("mlkem768x25519-sha256",
                                             u8(KEXDH_INIT) + string(bytes(1184 + 32))))
    gex = (v_client + packet(kexinit(["diffie-hellman-group-exchange-sha256"] + strict_c, hk))
           + packet(u8(GEX_REQUEST) + u32(2048) + u32(3072) + u32(8192))
           + packet(u8(GEX_INIT) + mpint(2)))
    seed(s, "dh_gex", b"\0" + gex)
    seed(s, "prebanner_and_guess", b"\0" + v_client
         + packet(kexinit(["curve25519-sha256", "ecdh-sha2-nistp256"], ["ecdsa-sha2-nistp256"],
                          follows=True))
         + packet(u8(KEXDH_INIT) + string(bytes(32))) + packet(u8(2) + string(b"ignored")))

    # The fuzzer as a server, against our client.
    sig = string("ssh-ed25519") + string(bytes(64))
    def server(kex, reply):
        return (v_server + packet(kexinit([kex] + strict_s, hk)) + packet(reply)
                + packet(u8(NEWKEYS)))
    c = "proto_transport_client"
    seed(c, "curve25519", b"\0" + server("curve25519-sha256", u8(KEXDH_REPLY) + string(ed_blob)
                                          + string(bytes(range(32))) + string(sig)))
    seed(c, "ecdh_p256_cut5", b"\x05" + server("ecdh-sha2-nistp256", u8(KEXDH_REPLY) + string(ed_blob)
                                                + string(P256_G) + string(sig)))
    p, g = moduli_group()
    gexs = (v_server + packet(kexinit(["diffie-hellman-group-exchange-sha256"] + strict_s, hk))
            + packet(u8(GEX_GROUP) + mpint(p) + mpint(g))
            + packet(u8(GEX_REPLY) + string(ed_blob) + mpint(2) + string(sig)))
    seed(c, "dh_gex", b"\0" + gexs)
    seed(c, "banner_lines", b"\0" + b"Welcome\r\nto the host\r\n" + server(
        "diffie-hellman-group14-sha256", u8(KEXDH_REPLY) + string(ed_blob) + mpint(2) + string(sig)))

    # Payloads after the handshake (first byte: cipher/MAC/compression pick).
    ext_info = u8(7) + u32(1) + string("server-sig-algs") + string("ssh-ed25519,rsa-sha2-512")
    e = "proto_transport_encrypted"
    msgs = [u8(5) + string("ssh-userauth"), u8(2) + string(b"ignore me"),
            u8(4) + u8(1) + string("debug message") + string(""), ext_info,
            u8(50) + string("alice") + string("ssh-connection") + string("none")]
    seed(e, "service_and_auth", b"\x01" + b"".join(frame16(m) for m in msgs))
    seed(e, "zlib_chacha", b"\x80" + b"".join(frame16(m) for m in msgs))
    rekey = [kexinit(["curve25519-sha256"], ["ssh-ed25519"]),
             u8(KEXDH_INIT) + string(bytes(range(32))), u8(NEWKEYS)]
    seed(e, "rekey", b"\x12" + b"".join(frame16(m) for m in rekey))
    seed(e, "disconnect", b"\x23" + frame16(u8(3) + u32(7)) + frame16(
        u8(1) + u32(11) + string("bye") + string("")))


def kexinit_seeds():
    k = "proto_kexinit"
    seed(k, "openssh_client", kexinit(
        ["sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "ecdh-sha2-nistp256",
         "diffie-hellman-group-exchange-sha256", "ext-info-c", "kex-strict-c-v00@openssh.com"],
        ["ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519", "rsa-sha2-512", "ecdsa-sha2-nistp256"],
        cipher=("chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-gcm@openssh.com"),
        mac=("umac-64-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha1"),
        comp=("none", "zlib@openssh.com")))
    seed(k, "server_guess", kexinit(["curve25519-sha256", "kex-strict-s-v00@openssh.com"],
                                    ["rsa-sha2-256"], comp=("zlib", "none"), follows=True))


def auth_seeds(ed_blob):
    a = "proto_auth"
    seed(a, "request_none", b"\0" + u8(50) + string("alice") + string("ssh-connection") + string("none"))
    seed(a, "request_password", b"\0" + u8(50) + string("alice") + string("ssh-connection")
         + string("password") + u8(1) + string("old") + string("new"))
    seed(a, "request_publickey_signed", b"\0" + u8(50) + string("alice") + string("ssh-connection")
         + string("publickey-hostbound-v00@openssh.com") + u8(1) + string("ssh-ed25519")
         + string(ed_blob) + string(ed_blob) + string(string("ssh-ed25519") + string(bytes(64))))
    seed(a, "failure", b"\0" + u8(51) + name_list(["publickey", "password"]) + u8(0))
    seed(a, "info_request", b"\0" + u8(60) + string("name") + string("instr") + string("")
         + u32(2) + string("Password: ") + u8(0) + string("OTP: ") + u8(1))
    seed(a, "info_response", b"\x02" + u8(61) + u32(2) + string("secret") + string("123456"))
    seed(a, "pk_ok", b"\0" + u8(60) + string("ssh-ed25519") + string(ed_blob))


def client_auth_seeds(ed_blob):
    """ssh_client_auth: the server's payloads, each u16-framed, in reply order."""
    c = "ssh_client_auth"
    accept = frame16(u8(6) + string("ssh-userauth"))
    methods = frame16(u8(51) + name_list(["publickey", "keyboard-interactive", "password"]) + u8(0))
    seed(c, "pk_ok_then_success", accept + methods
         + frame16(u8(60) + string("ssh-ed25519") + string(ed_blob)) + frame16(u8(52)))
    seed(c, "partial_then_kbdint", accept + methods
         + frame16(u8(60) + string("ssh-ed25519") + string(ed_blob))
         + frame16(u8(51) + name_list(["keyboard-interactive"]) + u8(1))
         + frame16(u8(60) + string("name") + string("instruction") + string("")
                   + u32(2) + string("Password: ") + u8(0) + string("OTP: ") + u8(1))
         + frame16(u8(60) + string("") + string("") + string("") + u32(0))
         + frame16(u8(52)))
    seed(c, "banner_changereq", accept + frame16(u8(53) + string("Welcome\x1b[2J\n") + string(""))
         + frame16(u8(51) + name_list(["password"]) + u8(0))
         + frame16(u8(60) + string("Expired") + string(""))
         + frame16(u8(51) + name_list(["password"]) + u8(0)))
    seed(c, "denied", accept + methods + frame16(u8(51) + name_list(["publickey"]) + u8(0))
         + frame16(u8(51) + name_list(["hostbased"]) + u8(0)))


def server_auth_seeds(ed_blob):
    """sshd_userauth: the client's payloads, each u16-framed, in order."""
    c = "sshd_userauth"
    service = frame16(u8(5) + string("ssh-userauth"))

    def req(user, method, rest=b""):
        return frame16(u8(50) + string(user) + string("ssh-connection") + string(method) + rest)

    seed(c, "none_then_password", service + req("root", "none")
         + req("root", "password", u8(0) + string("wrong"))
         + req("root", "password", u8(1) + string("old") + string("new")))
    seed(c, "pk_query_then_bad_signature", service
         + req("root", "publickey", u8(0) + string("ssh-ed25519") + string(ed_blob))
         + req("root", "publickey", u8(1) + string("ssh-ed25519") + string(ed_blob)
               + string(string("ssh-ed25519") + string(b"\0" * 64))))
    seed(c, "hostbound_query", service
         + req("root", "publickey-hostbound-v00@openssh.com",
               u8(0) + string("ssh-ed25519") + string(ed_blob) + string(ed_blob)))
    seed(c, "kbdint_answers", service
         + req("nosuchuser", "keyboard-interactive", string("") + string(""))
         + frame16(u8(61) + u32(1) + string("answer"))
         + req("nosuchuser", "keyboard-interactive", string("") + string("pam,bsdauth")))
    seed(c, "hostbased_then_user_change", service
         + req("root", "hostbased", string("ssh-ed25519") + string(ed_blob) + string("client.example.")
               + string("root") + string(string("ssh-ed25519") + string(b"\0" * 64)))
         + req("other", "none"))


def wire_seeds():
    w = "proto_wire"
    seed(w, "string_namelist", u8(4) + string("hello") + u8(6) + name_list(["a", "b,c"]) + u8(9))
    seed(w, "mpint_u64", u8(7) + mpint(0x80FF) + u8(3) + u64(2**63) + u8(1) + u8(1) + u8(9))


def connection_seeds():
    c = "proto_connection"
    def peer(m):
        return u8(0) + frame16(m)
    def op(code, ch=0):
        return u8((ch << 5) | code)
    open_session = (u8(90) + string("session") + u32(0) + u32(2 * 1024 * 1024) + u32(32768))
    s1 = (peer(open_session) + op(17)
          + peer(u8(98) + u32(0) + string("pty-req") + u8(1) + string("xterm") + u32(80) + u32(24)
                 + u32(0) + u32(0) + string(b""))
          + op(25) + u8(1)
          + peer(u8(94) + u32(0) + string("hello")) + op(21) + u32(3 * 1024 * 1024)
          + op(19) + frame16(b"world") + peer(u8(93) + u32(0) + u32(1000))
          + peer(u8(96) + u32(0)) + op(22) + peer(u8(97) + u32(0)) + op(23))
    seed(c, "server_session", s1)
    s2 = (op(16) + u8(0) + frame16(b"")
          + peer(u8(91) + u32(0) + u32(5) + u32(65536) + u32(16384))
          + op(24) + u8(2) + u8(1) + frame16(string("ls"))
          + peer(u8(99) + u32(0)) + peer(u8(95) + u32(0) + u32(1) + string("err"))
          + peer(u8(80) + string("keepalive@openssh.com") + u8(1)) + op(27) + u8(0) + frame16(b"")
          + op(26) + u8(1) + frame16(string("") + u32(0)) + peer(u8(81) + u32(4242))
          + op(16) + u8(1) + frame16(string("localhost") + u32(22) + string("::1") + u32(5555))
          + peer(u8(92) + u32(1) + u32(2) + string("connect failed") + string(""))
          + op(20) + frame16(b"x" * 100) + op(23) + peer(u8(97) + u32(0)))
    seed(c, "client_exec", s2)


def compress_seeds():
    z = "proto_compress"
    co = zlib.compressobj(6)
    pkts = []
    for p in [b"\x5e" + b"A" * 200, b"\x5e" + bytes(range(256)), b"\x02hello hello hello"]:
        pkts.append(co.compress(p) + co.flush(zlib.Z_PARTIAL_FLUSH))
    seed(z, "inflate_stream", b"\0\x08" + b"".join(frame16(p) for p in pkts))
    seed(z, "deflate_round_trip", b"\x01" + u8(3) + frame16(b"abcabcabc" * 20)
         + u8(0) + frame16(bytes(range(200))))


def agent_seeds(ed_blob):
    a = "agent_codec"
    def framed(body):
        return u32(len(body)) + body
    seed(a, "request_identities", framed(u8(11)))
    seed(a, "sign_request", framed(u8(13) + string(ed_blob) + string(b"data to sign") + u32(4)))
    seed(a, "identities_answer", framed(u8(12) + u32(2) + string(ed_blob) + string("me@host")
                                        + string(ed_blob) + string("")))
    seed(a, "sign_response", framed(u8(14) + string(string("ssh-ed25519") + string(bytes(64)))))
    seed(a, "failure", framed(u8(5)))


def config_seeds():
    src = os.path.join(ROOT, "crates", "oxssh-config", "tests", "corpus")
    for target, sub, names in [
        ("config_client", "client", ["basic.conf", "match_basic.conf", "hostname_tokens.conf",
                                     "equals_quotes.conf", "include.conf"]),
        ("config_server", "server", ["debian_stock.conf", "deprecated.conf", "err_authmethods.conf"]),
    ]:
        for n in names:
            with open(os.path.join(src, sub, n), "rb") as f:
                seed(target, n, f.read())
    seed("config_server", "match_blocks",
         "Port 2222\nPermitRootLogin prohibit-password\nAuthenticationMethods publickey,password\n"
         "Match User alice Address 10.0.0.0/8\n  ForceCommand /bin/true\n  X11Forwarding yes\n"
         "Match Group admins,!guests\n  AllowTcpForwarding local\n")


def text_seeds(pubs):
    ed, ec = pubs["id_ed25519.pub"], pubs["id_ecdsa256.pub"]
    ed_key = " ".join(ed.split()[:2])
    ec_key = " ".join(ec.split()[:2])
    k = "keys_known_hosts"
    seed(k, "plain", f"example.com,192.0.2.1\nexample.com,192.0.2.1 {ed_key}\n"
         f"# comment\n[example.com]:2222 {ec_key}\n*.example.org,!bad.example.org {ed_key}\n")
    seed(k, "markers", f"host.example.com\n@cert-authority *.example.com {ed_key}\n"
         f"@revoked * {ec_key}\nhost.example.com {ec_key}\n")
    a = "keys_authorized_keys"
    seed(a, "options", f'command="echo hi",no-pty,from="10.0.0.0/8,!10.1.*" {ed_key} me@host\n'
         f'# comment\n{ec_key}\nrestrict,port-forwarding,permitopen="host:22",'
         f'environment="A=b c",expiry-time="20300101" {ed_key}\n')
    seed(a, "cert_authority", f'cert-authority,principals="alice,bob" {ed_key}\n'
         f'no-agent-forwarding,no-X11-forwarding,permitlisten="localhost:8080",'
         f'no-touch-required,verify-required {ec_key}\n')
    s = "keys_allowed_signers"
    seed(s, "basic", f"alice@example.com {ed_key}\n"
         f'"bob@example.com,carol@*" namespaces="file,git" {ec_key}\n'
         f"*@example.com cert-authority,valid-after=20200101,valid-before=20350101Z {ed_key}\n")
    t = "keys_timefmt"
    seed(t, "intervals_and_dates", "1h30m\n2w\n90\n20260101\n202601011230Z\n20260101123045UTC\n")
    with open("/usr/share/zoneinfo/Europe/Berlin", "rb") as f:
        seed(t, "tzif_berlin", f.read())
    m = "moduli"
    with open("/etc/ssh/moduli") as f:
        lines = [l for l in f if not l.startswith("#")]
    head = u32(2048) + u32(3072) + u32(8192)
    seed(m, "moduli_2048", head + "".join(l for l in lines if l.split()[4] == "2047")[:1200].encode())
    seed(m, "screen_candidates", head + b"# comment\n"
         b"20260101000000 4 0 0 1023 0 " + b"F" * 256 + b"\n"
         b"20260101000000 2 6 100 1023 2 " + b"E" + b"7" * 255 + b"\n")


def keygen_seeds(pubs):
    """Seeds that need the real ssh-keygen: key formats, certificates, KRLs, SSHSIG."""
    tmp = tempfile.mkdtemp(prefix="oxssh-seeds-")
    try:
        for n in ["id_ed25519", "id_ed25519.pub", "id_ecdsa256", "id_ecdsa256.pub",
                  "id_rsa3072", "id_rsa3072.pub"]:
            shutil.copy(os.path.join(FIXTURES, n), tmp)
            os.chmod(os.path.join(tmp, n), 0o600)
        # Private keys: the OpenSSH fixtures, PEM and PKCS#8 conversions, and an
        # encrypted key with a low round count (the target decrypts only those).
        pk = "keys_private_key"
        seed(pk, "openssh_ed25519", fixture("id_ed25519"))
        seed(pk, "openssh_ecdsa256", fixture("id_ecdsa256"))
        for fmt in ["PEM", "PKCS8"]:
            shutil.copy(os.path.join(tmp, "id_ecdsa256"), os.path.join(tmp, "k"))
            keygen("-p", "-N", "", "-m", fmt, "-f", "k", cwd=tmp)
            with open(os.path.join(tmp, "k"), "rb") as f:
                seed(pk, f"ecdsa256_{fmt.lower()}", f.read())
        shutil.copy(os.path.join(tmp, "id_ed25519"), os.path.join(tmp, "k"))
        keygen("-p", "-N", "passphrase", "-a", "2", "-f", "k", cwd=tmp)
        with open(os.path.join(tmp, "k"), "rb") as f:
            seed(pk, "encrypted_rounds2", f.read())

        # Public keys in every format `-i` reads.
        pu = "keys_public_key"
        seed(pu, "openssh_line", pubs["id_ed25519.pub"])
        for name, args in [("rfc4716_ecdsa", ["-e", "-f", "id_ecdsa256.pub"]),
                           ("pkcs8_ecdsa", ["-e", "-m", "PKCS8", "-f", "id_ecdsa256.pub"]),
                           ("pem_rsa", ["-e", "-m", "PEM", "-f", "id_rsa3072.pub"])]:
            out = subprocess.run(["ssh-keygen", *args], cwd=tmp, check=True,
                                 capture_output=True).stdout
            seed(pu, name, out)

        # Certificates: a user and a host certificate signed by the ECDSA fixture.
        c = "keys_cert"
        keygen("-s", "id_ecdsa256", "-I", "alice-key", "-n", "alice,bob", "-z", "42",
               "-V", "20200101:20350101", "-O", "force-command=/bin/true",
               "-O", "source-address=10.0.0.0/8", "id_ed25519.pub", cwd=tmp)
        with open(os.path.join(tmp, "id_ed25519-cert.pub")) as f:
            user_cert = f.read()
        seed(c, "user_cert_blob", pub_blob(user_cert))
        seed(c, "user_cert_line", user_cert)
        keygen("-s", "id_ed25519", "-h", "-I", "host", "-n", "host.example.com,*.example.com",
               "id_ecdsa256.pub", cwd=tmp)
        with open(os.path.join(tmp, "id_ecdsa256-cert.pub")) as f:
            seed(c, "host_cert_blob", pub_blob(f.read()))

        # KRLs: a binary one with every section type, and the spec text it came from.
        k = "keys_krl"
        spec = ("serial: 1-100\nserial: 4242\nid: alice-key\n"
                f"key: {pubs['id_ed25519.pub'].strip()}\n"
                f"sha1: {pubs['id_ecdsa256.pub'].strip()}\n"
                "hash: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n")
        with open(os.path.join(tmp, "spec"), "w") as f:
            f.write(spec)
        keygen("-k", "-f", "krl", "-s", "id_ecdsa256.pub", "-z", "7", "spec", cwd=tmp)
        with open(os.path.join(tmp, "krl"), "rb") as f:
            seed(k, "krl_binary", f.read())
        keygen("-k", "-f", "krl2", "id_ecdsa256.pub", cwd=tmp)
        with open(os.path.join(tmp, "krl2"), "rb") as f:
            seed(k, "krl_plain_key", f.read())
        seed(k, "spec_text", spec)

        # SSHSIG: armored and binary signatures by the Ed25519 and RSA fixtures.
        with open(os.path.join(tmp, "message"), "wb") as f:
            f.write(b"message")
        s = "keys_sshsig"
        verify = "proto_hostkey_verify"
        # Indexes into oxssh_proto::hostkey::SigAlg::ALL (a stale index only makes the
        # seed pick another algorithm).
        alg_index = {"ssh-ed25519": 8, "ecdsa-sha2-nistp256": 9, "rsa-sha2-512": 14}
        for key in ["id_ed25519", "id_ecdsa256", "id_rsa3072"]:
            keygen("-Y", "sign", "-f", key, "-n", "file", "message", cwd=tmp)
            with open(os.path.join(tmp, "message.sig"), "rb") as f:
                armored = f.read()
            os.remove(os.path.join(tmp, "message.sig"))
            body = b"".join(armored.splitlines()[1:-1])
            blob = base64.b64decode(body)
            if key == "id_ed25519":
                seed(s, "armored_ed25519", armored)
                seed(s, "binary_ed25519", blob)
            elif key == "id_rsa3072":
                seed(s, "armored_rsa", armored)
            # A verifying (key, data, signature) triple for hostkey::verify: the
            # signature inside the SSHSIG blob covers the SSHSIG signed data.
            r = blob[6 + 4:]
            fields = []
            for _ in range(5):
                n = struct.unpack(">I", r[:4])[0]
                fields.append(r[4:4 + n])
                r = r[4 + n:]
            key_blob, ns, _res, hash_alg, sig = fields
            alg_byte = alg_index[sig[4:4 + struct.unpack(">I", sig[:4])[0]].decode()]
            h = hashlib.new(hash_alg.decode(), b"message").digest()
            signed = b"SSHSIG" + string(ns) + string(b"") + string(hash_alg) + string(h)
            seed(verify, f"valid_{key[3:]}", u8(alg_byte) + frame16(key_blob) + frame16(signed)
                 + frame16(sig))
    finally:
        shutil.rmtree(tmp)


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    pubs = {n: fixture(n).decode() for n in ["id_ed25519.pub", "id_ecdsa256.pub"]}
    ed_blob = pub_blob(pubs["id_ed25519.pub"])
    transport_seeds(ed_blob)
    kexinit_seeds()
    auth_seeds(ed_blob)
    client_auth_seeds(ed_blob)
    server_auth_seeds(ed_blob)
    wire_seeds()
    connection_seeds()
    compress_seeds()
    agent_seeds(ed_blob)
    config_seeds()
    text_seeds(pubs)
    keygen_seeds(pubs)
    for t in sorted(written):
        print(f"{t}: {written[t]} seeds")


if __name__ == "__main__":
    main()
