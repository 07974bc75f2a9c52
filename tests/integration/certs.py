"""Test certificates made with python3-cryptography: a CA, an intermediate,
server certificates with any names and dates, PEM text for the panel's
certificate upload, and a helper that reads which certificate a TLS port
serves for an SNI name (Python's ssl module)."""

import datetime
import socket
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def key():
    return ec.generate_private_key(ec.SECP256R1())


def make(subject_cn, names, issuer=None, issuer_key=None, ca=False, not_before=None,
         not_after=None, k=None):
    """A certificate (and its key); self-signed when issuer is None."""
    k = k or key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer.subject if issuer is not None else subject)
         .public_key(k.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before or now() - HOUR)
         .not_valid_after(not_after or now() + 90 * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                            critical=False)
    cert = b.sign(issuer_key if issuer_key is not None else k, hashes.SHA256())
    return cert, k


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(k, password=None):
    enc = (serialization.BestAvailableEncryption(password) if password
           else serialization.NoEncryption())
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           enc).decode()


class Chain:
    """root CA -> intermediate -> server certificate for names."""

    def __init__(self, names, **kw):
        self.root, self.root_key = make("Postern Test Root", None, ca=True)
        self.inter, self.inter_key = make("Postern Test Intermediate", None, issuer=self.root,
                                          issuer_key=self.root_key, ca=True)
        self.leaf, self.key = make(names[0], names, issuer=self.inter,
                                   issuer_key=self.inter_key, **kw)

    def chain_pem(self):
        return pem(self.leaf) + pem(self.inter)

    def key_pem(self):
        return key_pem(self.key)

    def der(self):
        return self.leaf.public_bytes(serialization.Encoding.DER)


def served(port, sni, host="127.0.0.1", timeout=10):
    """DER of the certificate the implicit-TLS port serves for SNI sni."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as t:
            return t.getpeercert(binary_form=True)


def served_cert(port, sni, **kw):
    return x509.load_der_x509_certificate(served(port, sni, **kw))


def verify_with(port, sni, ca_pem, host="127.0.0.1", timeout=10):
    """Full verification (chain to ca_pem, hostname sni) by Python's ssl."""
    ctx = ssl.create_default_context(cadata=ca_pem)
    with socket.create_connection((host, port), timeout=timeout) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as t:
            return t.getpeercert()
