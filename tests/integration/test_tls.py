"""test_tls.py - liaisond over HTTPS with a self-signed certificate made by
the openssl CLI in the temporary directory: TLS 1.2+ works (certificate
verified), TLS 1.0 and 1.1 are refused, plain HTTP on the TLS port gets no
TAXII answer; and the refused configurations: --http on a non-loopback
address, TLS without a key, a key that does not match the certificate."""

import os
import socket
import ssl
import subprocess
import sys
import threading
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (LIAISOND, SLOW, Hub, Skip, case, check, eq,  # noqa: E402
                          indicator, run)

warnings.simplefilter("ignore", DeprecationWarning)

H = Hub("tls")
A = "alpha"
C = {}
F = {}


def openssl(*args):
    p = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        raise SystemExit("openssl %s failed: %s" % (" ".join(args), p.stderr.decode()[-500:]))


def make_cert(name):
    key = os.path.join(H.tmp, name + ".key")
    crt = os.path.join(H.tmp, name + ".crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    return crt, key


def setup():
    F["crt"], F["key"] = make_cert("hub")
    F["crt2"], F["key2"] = make_cert("other")
    H.init()
    H.add_root("api1")
    C["c"] = H.add_collection("api1", "TLS")
    H.partner(A)
    H.grant(A, C["c"], read=True, write=True)
    H.start("--tls-cert", F["crt"], "--tls-key", F["key"])
    check(H.scheme == "https", "TLS server announced %s" % H.scheme)
    ctx = ssl.create_default_context(cafile=F["crt"])
    H.ssl_ctx = ctx


@case
def https_works_and_verifies():
    r = H.get("/taxii2/", auth=A).expect(200)
    check(r.json.get("api_roots"), "discovery over TLS")
    o = indicator()
    H.add_objects("api1", C["c"], [o], A)
    eq(H.get(Hub.objects_path("api1", C["c"], o["id"]), auth=A).expect(200).json["objects"], [o], "read back")
    s = socket.create_connection(("127.0.0.1", H.port), timeout=10 * SLOW)
    t = H.ssl_ctx.wrap_socket(s, server_hostname="127.0.0.1")
    try:
        check(t.version() in ("TLSv1.2", "TLSv1.3"), "negotiated %s" % t.version())
    finally:
        t.close()


@case
def tls12_only_client_works():
    ctx = ssl.create_default_context(cafile=F["crt"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    s = socket.create_connection(("127.0.0.1", H.port), timeout=10 * SLOW)
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    try:
        eq(t.version(), "TLSv1.2", "TLS 1.2 client")
    finally:
        t.close()


def old_tls_ctx(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


def client_can_speak(version):
    """Control: can this Python/OpenSSL speak `version` at all? Tried
    against a throwaway local server that allows it."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.set_ciphers("ALL:@SECLEVEL=0")
    sctx.minimum_version = version
    sctx.maximum_version = version
    sctx.load_cert_chain(F["crt"], F["key"])
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    res = {}

    def serve():
        try:
            c, _ = ls.accept()
            c.settimeout(10)
            try:
                sctx.wrap_socket(c, server_side=True).close()
            except (ssl.SSLError, OSError):
                pass
        except OSError:
            pass
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        s = socket.create_connection(ls.getsockname(), timeout=10)
        t = old_tls_ctx(version).wrap_socket(s)
        res["v"] = t.version()
        t.close()
    except (ssl.SSLError, OSError) as e:
        res["err"] = e
    finally:
        ls.close()
    return "v" in res


@case
def old_tls_versions_refused():
    tried = 0
    for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        if not client_can_speak(v):
            continue
        tried += 1
        s = socket.create_connection(("127.0.0.1", H.port), timeout=10 * SLOW)
        try:
            try:
                t = old_tls_ctx(v).wrap_socket(s)
            except (ssl.SSLError, OSError):
                continue  # refused: good
            got = t.version()
            t.close()
            raise AssertionError("liaisond accepted a %s handshake (negotiated %s)" % (v.name, got))
        finally:
            s.close()
    if not tried:
        raise Skip("this OpenSSL cannot offer TLS 1.0/1.1 even at SECLEVEL=0; nothing to test")
    # the server still serves modern clients afterwards
    H.get("/api1/", auth=A).expect(200)


@case
def plain_http_on_tls_port_gets_no_taxii():
    s = socket.create_connection(("127.0.0.1", H.port), timeout=10 * SLOW)
    try:
        s.sendall(b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\n" + b"Authorization: " +
                  H.creds[A].encode() + b"\r\n\r\n")
        data = b""
        try:
            while len(data) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        check(b"api_roots" not in data, "plain HTTP on the TLS port was answered: %r" % data[:200])
    finally:
        s.close()
    H.get("/api1/", auth=A).expect(200)


@case
def untrusted_certificate_refused_by_client():
    # sanity: a client that trusts another certificate fails to verify
    ctx = ssl.create_default_context(cafile=F["crt2"])
    s = socket.create_connection(("127.0.0.1", H.port), timeout=10 * SLOW)
    try:
        try:
            ctx.wrap_socket(s, server_hostname="127.0.0.1").close()
        except ssl.SSLCertVerificationError:
            return
        raise AssertionError("certificate verified against the wrong CA")
    finally:
        s.close()


def refused_start(args, want_words):
    """liaisond with args must exit non-zero soon, never say it listens,
    and explain itself on stderr with one of want_words."""
    d = H.data
    p = subprocess.run([LIAISOND, "--data-dir", d] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30 * SLOW)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    check(p.returncode != 0, "liaisond %s started (exit 0): %s %s" % (" ".join(args), out, err))
    check("listening" not in out, "liaisond %s said it listens: %r" % (" ".join(args), out))
    check(any(w in err.lower() for w in want_words),
          "liaisond %s: stderr does not explain (%s): %r" % (" ".join(args), "/".join(want_words), err))


@case
def http_on_non_loopback_refused():
    refused_start(["--listen", "0.0.0.0:0", "--http"], ["loopback"])
    refused_start(["--listen", "[::]:0", "--http"], ["loopback"])
    refused_start(["--listen", "192.0.2.1:0", "--http"], ["loopback"])


@case
def bad_tls_configurations_refused():
    refused_start(["--listen", "127.0.0.1:0"], ["tls", "http", "cert"])
    refused_start(["--listen", "127.0.0.1:0", "--tls-cert", F["crt"]], ["key"])
    refused_start(["--listen", "127.0.0.1:0", "--tls-cert", F["crt"], "--tls-key", F["key2"]],
                  ["key", "cert", "match", "tls"])
    refused_start(["--listen", "127.0.0.1:0", "--tls-cert", os.path.join(H.tmp, "nope.crt"),
                   "--tls-key", F["key"]], ["nope.crt", "cert", "no such"])


@case
def concurrent_tls_clients():
    errs = []

    def worker():
        try:
            c = H.conn()
            try:
                for _ in range(10):
                    H.get("/api1/", auth=A, conn=c).expect(200)
            finally:
                c.close()
        except Exception as e:  # noqa: BLE001
            errs.append(e)
    ts = [threading.Thread(target=worker) for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    check(not errs, "TLS clients failed: %r" % errs[:2])


if __name__ == "__main__":
    run([H], setup)
