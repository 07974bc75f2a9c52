"""IMAP CREATE-SPECIAL-USE (RFC 6154 3): CREATE name (USE (\\attr)) gives the
new mailbox its special use, shown by LIST (SPECIAL-USE) and by a plain LIST;
NO [USEATTR] (and nothing created) for an unknown use, for \\All and \\Flagged
(virtual mailboxes Postern does not have), for two uses at once and for a use
another mailbox of the account already has; BAD for an unknown parameter.
Raw commands through Python's imaplib (m._simple_command)."""

import imaplib
import re

import pytest

import util
from util import HOST


def connect(ports, user, password):
    m = imaplib.IMAP4_SSL(HOST, ports["imaps"], ssl_context=util.client_ctx(), timeout=30)
    assert m.login(user, password)[0] == "OK"
    return m


def create(m, *args):
    """Sends CREATE with raw arguments; returns (typ, text of the tagged reply)."""
    try:
        typ, data = m._simple_command("CREATE", *args)
    except imaplib.IMAP4.error as e:  # BAD
        return "BAD", str(e)
    return typ, b" ".join(d for d in data if d).decode()


def listing(m, *args):
    typ, data = m._simple_command("LIST", *args)
    assert typ == "OK", data
    typ, data = m._untagged_response(typ, data, "LIST")
    lines = [d.decode() for d in data if d]
    return {re.search(r'"/" "?([^"]*)"?$', ln).group(1): ln for ln in lines}


@pytest.fixture
def box(daemon, site):
    return site.new_user("csu")


def test_capability_advertised(box, ports):
    m = connect(ports, *box)
    typ, data = m.capability()
    caps = data[0].decode().split()
    assert "CREATE-SPECIAL-USE" in caps and "SPECIAL-USE" in caps, caps
    m.logout()


def test_create_with_special_use(box, ports):
    m = connect(ports, *box)
    # a fresh account has \Drafts \Sent \Trash \Junk \Archive already: free \Junk
    assert m.delete("Junk")[0] == "OK"
    typ, text = create(m, "Spam", r"(USE (\Junk))")
    assert typ == "OK", text
    found = listing(m, '""', "*")
    assert "\\Junk" in found["Spam"], found
    special = listing(m, r"(SPECIAL-USE)", '""', "*")
    assert "Spam" in special and "\\Junk" in special["Spam"], special
    assert "Junk" not in special and "INBOX" not in special, special
    # the attribute is case-insensitive on the wire, stored in its RFC form;
    # "USE ()" is a plain CREATE
    assert m.delete("Trash")[0] == "OK"
    typ, text = create(m, "Bin", r"(use (\TRASH))")
    assert typ == "OK", text
    assert "\\Trash" in listing(m, '""', "Bin")["Bin"]
    typ, text = create(m, "Plain", "(USE ())")
    assert typ == "OK", text
    assert "\\" not in listing(m, '""', "Plain")["Plain"].split(")")[0].replace(
        "\\HasNoChildren", "")
    m.logout()


def test_create_special_use_refused(box, ports):
    m = connect(ports, *box)
    before = set(listing(m, '""', "*"))
    for args, code in [
        ((r"(USE (\Sent))",), "USEATTR"),        # "Sent" already has it
        ((r"(USE (\Archive))",), "USEATTR"),     # the Archive of 004_imap.sql
        ((r"(USE (\Bogus))",), "USEATTR"),       # unknown
        ((r"(USE (\All))",), "USEATTR"),         # virtual, not supported
        ((r"(USE (\Flagged))",), "USEATTR"),
        ((r"(USE (\Drafts \Trash))",), "USEATTR"),  # one use per mailbox
    ]:
        typ, text = create(m, "NewBox", *args)
        assert typ == "NO" and f"[{code}]" in text, (args, typ, text)
    # the name check wins over the use check
    typ, text = create(m, "Sent", r"(USE (\Sent))")
    assert typ == "NO" and "[ALREADYEXISTS]" in text, text
    for args in [("(FOO (bar))",), ("(USE)",), ("USE",), ("(USE (x))", "extra")]:
        typ, text = create(m, "NewBox", *args)
        assert typ == "BAD", (args, typ, text)
    assert set(listing(m, '""', "*")) == before
    # the special use moves with a freed name: delete Sent, re-create it
    assert m.delete("Sent")[0] == "OK"
    typ, text = create(m, "Outbox", r"(USE (\Sent))")
    assert typ == "OK", text
    assert "\\Sent" in listing(m, r"(SPECIAL-USE)", '""', "*")["Outbox"]
    m.logout()
