"""Poll votes → the option names voted for.

A vote arrives encrypted (`pollUpdateMessage.vote`): AES-256-GCM under a key derived (HKDF-SHA256)
from the poll's own `messageSecret`, as whatsmeow's msgsecret.go does, and holds SHA-256 hashes of
the chosen option names. So we remember the polls we saw arrive (their options and secret) and
decrypt in Python; that needs no network and no Go call. A vote on a poll we did not see (sent
before this daemon started, or sent from this device) cannot be opened: the event says so.
whatsmeow's own DecryptPollVote is deliberately not used: offline and unpaired it dereferences a nil
pointer (msgsecret.go), and a Go panic aborts the whole daemon.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from whatshooked.accounts.whatsapp_web import bindings as nz

REMEMBERED_POLLS = 2000
POLL_VOTE = b"Poll Vote"


@dataclass(frozen=True)
class Poll:
    options: tuple[str, ...]
    secret: bytes
    creators: tuple[str, ...]
    """The creator's JIDs as whatsmeow writes them (`user@server`, phone and linked id when known)."""


def poll_key(modification: str, orig_id: str, orig_sender: str, voter: str, secret: bytes) -> tuple[bytes, bytes]:
    """whatsmeow's generateMsgSecretKey for a poll vote: (AES key, GCM additional data)."""
    from cryptography.hazmat.primitives import hashes  # ~7 MB: imported at the first vote (idle RSS: issue 14)
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    use_case = orig_id.encode() + orig_sender.encode() + voter.encode() + modification.encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=use_case).derive(secret)
    return key, f"{orig_id}\x00{voter}".encode()


def open_vote(poll_id: str, poll: Poll, voters: list[str], vote: Any) -> list[bytes] | None:
    """The hashes voted for, trying each known form of both JIDs (GCM tells the right one); None if none fits."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    for creator in poll.creators:
        for voter in voters:
            key, aad = poll_key(POLL_VOTE.decode(), poll_id, creator, voter, poll.secret)
            try:
                plain = AESGCM(key).decrypt(vote.encIV, vote.encPayload, aad)
            except Exception:
                continue
            return list(nz.wa.PollVoteMessage.FromString(plain).selectedOptions)
    return None


class PollMemory:
    def __init__(self) -> None:
        self._polls: OrderedDict[str, Poll] = OrderedDict()

    def remember(self, poll_id: str, poll: Poll) -> None:
        self._polls[poll_id] = poll
        self._polls.move_to_end(poll_id)
        while len(self._polls) > REMEMBERED_POLLS:
            self._polls.popitem(last=False)

    def get(self, poll_id: str) -> Poll | None:
        return self._polls.get(poll_id)


def names_of(options: tuple[str, ...], selected: list[bytes]) -> list[str] | None:
    by_hash = {hashlib.sha256(o.encode()).digest(): o for o in options}
    names = [by_hash.get(h) for h in selected]
    return None if any(n is None for n in names) else [n for n in names if n is not None]
