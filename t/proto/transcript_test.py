#!/usr/bin/python3
# t/proto/transcript_test.py -- replays the golden raw-socket transcript of stock memcached 1.6.18
# ($RC_SHARED/reference/memcached-1.6.18-transcript.txt, PROTOCOL.md) against the binary under test
# and compares the replies byte for byte.
#
# The transcript format ('#' lines are comments):
#     === <case name>
#       >> <bytes sent>             continuation lines are indented by 6 spaces
#       << <bytes expected>         "<connection closed>" = the server closes the connection
# Bytes are escaped (\r \n \t \\ \xNN). Placeholders stand for values that change from run to run:
# <n> <v> <cas> <fd> <port> <ttl>; where one ends a display line, the probe's masking swallowed the
# "\r\n" that ended the reply line too ("STAT pid <n>" was "STAT pid 1234\r\n"), so such a
# placeholder matches the rest of the line *including* its \r\n. Masking also hit digits that were
# not the placeholder's (the key "c1" shows as "c<cas>"); a wildcard covers both. Anything else in
# angle brackets ("<key>" in the delete usage line) is literal. Long sends are abbreviated as
# "<first chars>...<N bytes total>" (see reconstruct_elided()).
#
# One server, started as the reference was (default options: -t 4 -m 64, plus -l 127.0.0.1 -U 0),
# replays the cases in file order, each on a fresh connection (closed gracefully at the end so the
# server has processed the close before the next case; `stats conns` depends on it). The "watch"
# case's connection stays open until after the "stats" case, whose reference counts it
# (log_watchers 1). Read-only `stats` commands are re-sent for up to 5 s until they match, since
# memcached's background threads update what they show with a lag (RETRYABLE_SENDS). Each reply
# is read until the expected bytes are complete (or an END line), or for 2 s at most.
#
# Groups: "text", "meta" (mn/mg/ms/md/ma/me, base64 keys, meta errors) and "bin" (decoded binary
# packets) all run by default; --groups (or RC_TRANSCRIPT_GROUPS=...) picks a subset.
#
# Extra masks: a few values depend on memcached's slab allocator, its segmented LRU and its
# background threads, and cannot match a different store design (or even memcached itself at a
# different replay speed). They are listed, with the reason, in EXTRA_MASKS and PER_CLASS_* below;
# everything else -- error strings, counters, key sets -- must match exactly.
# RC_TRANSCRIPT_NO_EXTRA_MASKS=1 turns EXTRA_MASKS off, to see what they hide.
#
# Run by hand: RINGCACHED=/usr/bin/memcached RC_SHARED=/work/shared t/proto/transcript_test.py
# [--groups text,meta,bin] [--list]
import argparse
import difflib
import os
import re
import struct
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest  # noqa: E402

PLACEHOLDERS = ("n", "v", "cas", "fd", "port", "ttl")
# Wildcard for a placeholder inside a line, and for one that ends a display line (and swallowed
# the reply line's \r\n). "<*>" is the test's own mask (EXTRA_MASKS).
PH_RE = re.compile(r"<(?:" + "|".join(PLACEHOLDERS) + r"|\*)>")
MID_LINE = rb"[^\r\n ]*"
END_OF_LINE = rb"[^\r\n]*\r\n"

# --- extra masks --------------------------------------------------------------------------------
# (send prefix, regex on the expected display text, replacement). Each replaces a value the
# reference shows literally with the wildcard <*>.
EXTRA_MASKS = [
    # `stats`, store-design dependent:
    #  bytes: memcached's per-item size (48-byte header + 8 CAS + key + " 0 1\r\n" suffix + value).
    #  moves_to_cold / moves_to_warm / moves_within_lru: segmented-LRU (hot/warm/cold) moves by
    #    the LRU maintainer thread; timing dependent even for memcached (moves_within_lru is 0 or
    #    1 on a loaded machine), meaningless for another eviction policy.
    #  reclaimed / expired_unfetched: counted when memcached's LRU tail pull or maintainer thread
    #    reuses the memory of expired/flushed items; depends on the allocator and on when that
    #    background thread ran (the probe paused 0.25 s per exchange, a replay does not).
    #  crawler_reclaimed / crawler_items_checked: what `lru_crawler crawl all` still found in
    #    memory depends on whether the maintainer had already reclaimed the flushed items.
    #  lrutail_reflocked: items a tail pull found still referenced by a worker; a race between
    #    memcached's LRU threads and its workers (0 normally, 3 on a loaded machine).
    (b"stats\r\n",
     r"STAT (bytes|moves_to_cold|moves_to_warm|moves_within_lru|reclaimed|expired_unfetched|"
     r"crawler_reclaimed|crawler_items_checked|lrutail_reflocked) \d+\\r\\n",
     r"STAT \1 <*>\\r\\n"),
    # `stats settings` oldest: the server-relative time of the last flush_all, i.e. an uptime.
    (b"stats settings\r\n", r"STAT oldest \d+\\r\\n", r"STAT oldest <*>\\r\\n"),
    # metadump / me: cls is memcached's slab class id, size its per-item size (as `bytes`).
    (b"lru_crawler metadump", r" cls=\d+ size=\d+", r" cls=<*> size=<*>"),
    (b"me ", r" cls=\d+ size=\d+", r" cls=<*> size=<*>"),
]

# `stats items` / `stats slabs` are per slab class: how many classes exist, their ids and sizes are
# memcached's allocator layout. They are compared after folding all classes into one: every class
# must carry the reference's field list (same names, same order); the fields below are summed over
# all classes and must match the reference's sums; every other per-class field is masked (layout,
# LRU segment sizes and ages, hits per LRU segment, reclaim/crawler counts as in EXTRA_MASKS).
# Class-less lines (active_slabs, total_malloced: pages held by the allocator) are masked.
PER_CLASS_SUMMED = {
    # stats items
    "number", "evicted", "evicted_nonzero", "outofmemory", "tailrepairs", "evicted_unfetched",
    "evicted_active", "direct_reclaims",
    # stats slabs (per-class command counters)
    "get_hits", "cmd_set", "delete_hits", "incr_hits", "decr_hits", "cas_hits", "cas_badval",
    "touch_hits",
}
PER_CLASS_SENDS = (b"stats items\r\n", b"stats slabs\r\n")
# `stats cachedump` lists a class's items in LRU order (newest first): the order is the eviction
# policy's, the key set is not. ITEM lines are compared sorted.
SORTED_SENDS = (b"stats cachedump",)

# --- elided sends ---------------------------------------------------------------------------------
# The probe printed a send longer than its display width as "<first chars>...<N bytes total>".
# The elided bytes are a run of the last byte shown, followed by a short tail it did not print.
# When the command line is complete in the shown part, the run is a data block: it fills <bytes>
# and is followed by \r\n (no entry needed). Otherwise the run is a long key or token and the tail
# comes from this table (per case, in send order); each tail is implied by the case's name and
# replies ('key 250 ok' reads back "VALUE <k*250> 0 1\r\nx\r\n", so it stored 'x' with flags 0;
# 'long line without newline' has none), and the run length is whatever makes the total N.
ELIDED_TAILS = {
    "key 250 ok": [b" 0 0 1\r\nx\r\n", b"\r\n"],              # set <k*250> 0 0 1 / get <k*250>
    "key 251 rejected (set, data not swallowed)": [b" 0 0 1\r\nx\r\n"],
    "key 251 in get": [b"\r\n"],                                # get a <k*251>
    "long line without newline closes": [b""],                  # set <x*3000>, no newline
    # mg <k*N>: whether the probe sent 253 k's and no flags or 251 and " v" is not recoverable;
    # either key is over 250, which is what the case checks.
    "meta errors": [b"\r\n"],
}
ELIDED_RE = re.compile(r"\.\.\.<(\d+) bytes total>$")

ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{2}|r|n|t|0|\\|'|\")")
ESCAPES = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\", "'": b"'", '"': b'"'}


def unescape(text):
    out = bytearray()
    pos = 0
    for m in ESCAPE_RE.finditer(text):
        out += text[pos:m.start()].encode("latin-1")
        e = m.group(1)
        out += bytes([int(e[1:], 16)]) if e[0] == "x" else ESCAPES[e]
        pos = m.end()
    out += text[pos:].encode("latin-1")
    return bytes(out)


class Exchange:
    """One send and what must come back."""

    def __init__(self, send, expect_lines):
        self.send = send                  # bytes (text) or list of packet dicts (bin)
        self.expect_closed = (bool(expect_lines)
                              and expect_lines[-1].strip() == "<connection closed>")
        if self.expect_closed:
            expect_lines = expect_lines[:-1]
        self.data_lines = expect_lines    # display lines of the expected bytes (maybe masked)


class Case:
    def __init__(self, name):
        self.name = name
        self.group = "text"   # text / meta / bin, see classify()
        self.pairs = []       # [(send display lines, expected display lines)] while parsing
        self.exchanges = []   # [Exchange] once parsed


def classify(case):
    """bin if it sends decoded packets; meta if any send starts with a meta command; else text."""
    for send_lines, _ in case.pairs:
        if send_lines[0].startswith("REQ "):
            return "bin"
        # The command word of each send (data blocks after it may hold anything).
        word = unescape("".join(send_lines)).split(b"\n", 1)[0].split(b" ", 1)[0].strip()
        if len(word) == 2 and word.startswith(b"m"):  # mn mg ms md ma me, and mz (error)
            return "meta"
    return "text"


def reconstruct_elided(case_name, display, tails_used):
    """The exact bytes of an abbreviated send (see ELIDED_TAILS)."""
    m = ELIDED_RE.search(display)
    total = int(m.group(1))
    prefix = unescape(display[:m.start()])
    run_byte = prefix[-1:]
    if b"\n" in prefix:  # command line complete: the run is the data block
        head = prefix[:prefix.index(b"\n") + 1]
        declared = int(head.split()[-1])
        data = run_byte * (total - len(head) - 2)
        if len(data) != declared or not prefix[len(head):].strip(run_byte) == b"":
            raise ValueError(f"{case_name}: cannot rebuild data block of {display[:40]}...")
        return head + data + b"\r\n"
    tails = ELIDED_TAILS.get(case_name)
    idx = tails_used.get(case_name, 0)
    if tails is None or idx >= len(tails):
        raise ValueError(f"{case_name}: abbreviated send with no known tail; "
                         "add one to ELIDED_TAILS")
    tails_used[case_name] = idx + 1
    tail = tails[idx]
    run = total - len(prefix) - len(tail)
    if run < 0:
        raise ValueError(f"{case_name}: tail {tail!r} too long for {total} bytes")
    return prefix + run_byte * run + tail


def parse_transcript(path):
    """[Case] in file order. Raises ValueError on anything it does not understand."""
    cases = []
    current = None  # the display-line list that continuation lines extend
    pending_send = None
    with open(path, encoding="latin-1") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("#") or not line:
                continue
            if line.startswith("=== "):
                if pending_send is not None:
                    raise ValueError(f"{cases[-1].name}: send without a reply")
                cases.append(Case(line[4:]))
                current = None
                continue
            if not cases:
                raise ValueError(f"transcript line before the first case: {line!r}")
            if line.startswith(("  >> ", "  << ")) or line in ("  >>", "  <<"):
                current = [line[5:]]
                if line[2:4] == ">>":
                    if pending_send is not None:
                        raise ValueError(f"{cases[-1].name}: two sends in a row")
                    pending_send = current
                else:
                    if pending_send is None:
                        raise ValueError(f"{cases[-1].name}: reply without a send")
                    cases[-1].pairs.append((pending_send, current))
                    pending_send = None
                continue
            if line.startswith("      ") and current is not None:
                current.append(line[6:])
                continue
            raise ValueError(f"unparsable transcript line: {line!r}")
    if pending_send is not None:
        raise ValueError(f"{cases[-1].name}: send without a reply")

    tails_used = {}
    for case in cases:
        case.group = classify(case)
        for send_lines, expect_lines in case.pairs:
            if case.group == "bin":
                send = [parse_packet(l) for l in send_lines]
            else:
                display = "".join(send_lines)
                send = (reconstruct_elided(case.name, display, tails_used)
                        if ELIDED_RE.search(display) else unescape(display))
            case.exchanges.append(Exchange(send, expect_lines))
    return cases


# --- expected bytes -> matcher -------------------------------------------------------------------
def apply_extra_masks(send, lines):
    if os.environ.get("RC_TRANSCRIPT_NO_EXTRA_MASKS"):  # to see what the masks hide
        return lines
    if not isinstance(send, bytes):  # binary packets: `oldest` as in `stats settings`
        return [re.sub(r"key='oldest' val=\d+$", "key='oldest' val=<n>", l) for l in lines]
    out = []
    for line in lines:
        for prefix, pat, repl in EXTRA_MASKS:
            if send.startswith(prefix):
                line = re.sub(pat, repl, line)
        out.append(line)
    return out


def line_pattern(display):
    """Regex (bytes) for one display line of expected bytes."""
    parts = []
    pos = 0
    matches = list(PH_RE.finditer(display))
    for i, m in enumerate(matches):
        parts.append(re.escape(unescape(display[pos:m.start()])))
        at_end = m.end() == len(display)
        if m.group(0) in ("<cas>", "<fd>", "<port>") and not at_end:
            parts.append(rb"\d+")
        else:
            parts.append(END_OF_LINE if at_end else MID_LINE)
        pos = m.end()
    parts.append(re.escape(unescape(display[pos:])))
    return b"".join(parts)


def expected_matcher(send, lines):
    lines = apply_extra_masks(send, lines)
    pattern = re.compile(b"".join(line_pattern(l) for l in lines), re.S)
    return pattern, lines


def fold_classes(text):
    """Canonical form of a `stats items`/`stats slabs` reply (see PER_CLASS_SUMMED)."""
    classes = []       # [(class id, [field names])], in reply order
    sums = {}
    other = []
    for line in text.split("\r\n"):
        if not line or line == "END":
            continue
        m = re.match(r"STAT (items:)?([^: ]+):(\S+) (.*)$", line)
        if m is None:
            m2 = re.match(r"STAT (\S+) (.*)$", line)
            other.append(f"STAT {m2.group(1)} <*>" if m2 else line)
            continue
        _, cls, field, value = m.groups()
        # A new class starts where the id changes (or, in the masked reference, where a field
        # repeats: its class ids all read "<fd>").
        if not classes or classes[-1][0] != cls or field in classes[-1][1]:
            classes.append((cls, []))
        classes[-1][1].append(field)
        if field in PER_CLASS_SUMMED:
            try:
                sums[field] = sums.get(field, 0) + int(value)
            except ValueError:
                sums[field] = f"{sums.get(field, '')}?{value}"
    out = []
    if classes:
        pre = "items:" if text.startswith("STAT items:") else ""
        fields = classes[0][1]
        for field in fields:
            out.append(f"STAT {pre}*:{field} "
                       + (str(sums.get(field)) if field in PER_CLASS_SUMMED else "<*>"))
        for cls, flist in classes:
            if flist != fields:
                out.append(f"class {cls} has other fields: {' '.join(flist)}")
    return "\n".join(out + other + (["END"] if text.endswith("END\r\n") else ["(no END)"]))


def sort_items(text):
    lines = [l for l in text.split("\r\n") if l]
    items = sorted(l for l in lines if l.startswith("ITEM "))
    return "\n".join(items + [l for l in lines if not l.startswith("ITEM ")])


def canonicalizer(send):
    if isinstance(send, bytes):
        if send.startswith(PER_CLASS_SENDS):
            return fold_classes
        if send.startswith(SORTED_SENDS):
            return sort_items
    return None


# --- binary packets (group "bin") -----------------------------------------------------------
PKT_RE = re.compile(r"(REQ|RES) op=0x([0-9a-f]{2}) status=0x([0-9a-f]{4}) opaque=0x([0-9a-f]{8}) "
                    r"cas=(\S+) ext=(\S+) key='(.*)' val=(.*)$")


def parse_packet(display):
    m = PKT_RE.match(display)
    if m is None:
        raise ValueError(f"unparsable packet line {display!r}")
    kind, op, status, opaque, cas, ext, key, val = m.groups()
    em = re.search(r"\.\.\.<(\d+) bytes>$", val)
    if em:
        v = unescape(val[:em.start()])
        val_bytes = v + v[-1:] * (int(em.group(1)) - len(v))
    else:
        val_bytes = unescape(val)
    return {"kind": kind, "op": int(op, 16), "status": int(status, 16), "opaque": int(opaque, 16),
            "cas": cas, "ext": b"" if ext == "-" else bytes.fromhex(ext), "key": unescape(key),
            "val": val_bytes, "val_display": val}


def encode_request(p):
    body = p["ext"] + p["key"] + p["val"]
    return struct.pack(">BBHBBHIIQ", 0x80, p["op"], len(p["key"]), len(p["ext"]), 0, 0,
                       len(body), p["opaque"], int(p["cas"])) + body


def decode_responses(data):
    """Display lines (as the transcript prints them) for the complete packets in data, plus the
    number of bytes consumed."""
    lines, pos = [], 0
    while len(data) - pos >= 24:
        magic, op, klen, elen, _dt, status, blen, opaque, cas = struct.unpack(
            ">BBHBBHIIQ", data[pos:pos + 24])
        if len(data) - pos < 24 + blen:
            break
        body = data[pos + 24:pos + 24 + blen]
        ext, key, val = body[:elen], body[elen:elen + klen], body[elen + klen:]
        lines.append(f"RES op=0x{op:02x} status=0x{status:04x} opaque=0x{opaque:08x} cas={cas} "
                     f"ext={ext.hex() if ext else '-'} key='{escape(key)}' val={escape(val)}"
                     + ("" if magic == 0x81 else f" magic=0x{magic:02x}"))
        pos += 24 + blen
    return lines, pos


def escape(b):
    out = []
    for ch in b:
        if ch == 0x5c:
            out.append("\\\\")
        elif 0x20 <= ch < 0x7f:
            out.append(chr(ch))
        else:
            out.append({0x0d: "\\r", 0x0a: "\\n", 0x09: "\\t"}.get(ch, f"\\x{ch:02x}"))
    return "".join(out)


def bin_line_matches(expected, got):
    pat = re.escape(expected)
    pat = pat.replace(re.escape("<cas>"), r"\d+").replace(re.escape("<n>"), r".*")
    return re.fullmatch(pat, got) is not None


# --- replay ---------------------------------------------------------------------------------------
def show(data, limit=4000):
    """Display lines for received bytes, in the transcript's notation (one line per \\r\\n)."""
    if not data:
        return ["(nothing)"]
    text = escape(data[:limit])
    lines = [l for l in re.split(r"(?<=\\r\\n)", text) if l]
    if len(data) > limit:
        lines.append(f"... <{len(data)} bytes in all>")
    return lines


# Read-only commands whose reply shows the state of memcached's background threads (LRU maintainer,
# logger, crawler), which lag the commands by up to a second: a replay runs much faster than the
# probe did (it paused 0.25 s after every reply). These are re-sent on the same connection, every
# 0.1 s for up to RETRY_SECONDS, until they match; they change no counter that is compared.
# Examples: `stats cachedump` lists only memcached's COLD LRU segment, where new items arrive when
# the maintainer moves them there; log_watchers is published by the logger thread; `lru_crawler
# metadump` answers "BUSY currently processing crawler request" while the crawl started by the
# previous case (`lru_crawler crawl all`, asynchronous) is still running on a loaded machine.
RETRYABLE_SENDS = (b"stats\r\n", b"stats settings\r\n", b"stats items\r\n", b"stats slabs\r\n",
                   b"stats conns\r\n", b"stats cachedump ", b"lru_crawler metadump ")
RETRY_SECONDS = 5.0
# A reply that ends with a complete line and then stays silent this long is taken as complete.
SETTLE_SECONDS = 0.5


def run_exchange(conn, ex, timeout):
    """Replay one exchange; returns None if it matched, else a description of the difference."""
    if isinstance(ex.send, list):
        return run_bin_exchange(conn, ex, timeout)
    retry = isinstance(ex.send, bytes) and ex.send.startswith(RETRYABLE_SENDS)
    deadline = time.monotonic() + RETRY_SECONDS
    for attempt in range(1, 1000):
        diff = run_exchange_once(conn, ex, timeout)
        if diff is None and attempt > 1:
            print(f"      ({ex.send.strip().decode('latin-1')!r} matched on attempt {attempt})")
        if diff is None or not retry or conn.closed or time.monotonic() > deadline:
            return diff
        time.sleep(0.1)
    return diff


def run_exchange_once(conn, ex, timeout):
    try:
        conn.send(ex.send)
    except ConnectionError as e:
        if ex.expect_closed and not ex.data_lines:
            return None
        return f"send failed: {e}"
    pattern, masked = expected_matcher(ex.send, ex.data_lines)
    ends_with_end = "".join(masked).endswith("END\\r\\n")
    canon = canonicalizer(ex.send) if ends_with_end else None
    if not "".join(masked) and not ex.expect_closed:
        # Nothing may come back; wait a little to see that nothing does.
        got, _ = conn.recv_until(lambda b: len(b) > 0, timeout=0.15)
        return None if not got else diff_text(["(nothing)"], show(got))
    if canon is not None:
        got, complete = conn.recv_until(lambda b: b.endswith(b"END\r\n"), timeout)
        want = canon(unescape("".join(masked)).decode("latin-1"))
        have = canon(got.decode("latin-1"))
        if complete and want == have:
            return None
        return diff_text(want.splitlines(), have.splitlines())
    if ex.expect_closed:
        conn.wait_closed(timeout)
        got = bytes(conn.buf)
        conn.buf.clear()
        if conn.closed and pattern.fullmatch(got) is not None:
            return None
        return diff_lines(masked, got, ["<connection closed>"],
                          ["<connection closed>"] if conn.closed else ["(connection still open)"])
    # Read until a full match; or (for END-terminated replies) the END line; or a complete line
    # followed by SETTLE_SECONDS of silence (a mismatch, found without waiting for the timeout).
    deadline = time.monotonic() + timeout
    while not (pattern.fullmatch(conn.buf) is not None
               or (ends_with_end and conn.buf.endswith(b"END\r\n"))):
        left = deadline - time.monotonic()
        if conn.closed or left <= 0:
            break
        settled = conn.buf.endswith(b"\n")
        if not conn.fill(min(SETTLE_SECONDS if settled else 0.5, left)) and settled:
            break
    got = bytes(conn.buf)
    conn.buf.clear()
    if pattern.fullmatch(got) is not None:
        return None
    return diff_lines(masked, got, [], ["<connection closed>"] if conn.closed else [])


def diff_lines(masked, got, want_extra, got_extra):
    """A unified diff of expected display lines vs received bytes, where an expected line whose
    placeholders match the received line is shown as received (so only real differences show)."""
    raw = [l for l in re.split(rb"(?<=\r\n)", got) if l]
    have = [escape(l) for l in raw]
    want = []
    j = 0
    for line in masked:
        pat = re.compile(line_pattern(line), re.S)
        for k in range(j, min(j + 3, len(raw))):
            if pat.fullmatch(raw[k]):
                want.append(have[k])
                j = k + 1
                break
        else:
            want.append(line)
    return diff_text(want + want_extra, (have or ["(nothing)"]) + got_extra)


def run_bin_exchange(conn, ex, timeout):
    try:
        conn.send(b"".join(encode_request(p) for p in ex.send))
    except ConnectionError as e:
        return f"send failed: {e}"
    want = apply_extra_masks(ex.send, ex.data_lines)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines, used = decode_responses(bytes(conn.buf))
        if len(lines) >= len(want):
            break
        if conn.closed:
            break
        conn.fill(min(0.5, deadline - time.monotonic()))
    lines, used = decode_responses(bytes(conn.buf))
    del conn.buf[:used]
    got_lines = lines
    if ex.expect_closed:
        conn.wait_closed(timeout)
    ok = (len(got_lines) == len(want)
          and all(bin_line_matches(w, g) for w, g in zip(want, got_lines))
          and (conn.closed or not ex.expect_closed))
    if ok:
        return None
    shown = [g if i < len(got_lines) and bin_line_matches(w, got_lines[i]) else w
             for i, (w, g) in enumerate(zip(want, got_lines + [""] * len(want)))]
    return diff_text(shown + (["<connection closed>"] if ex.expect_closed else []),
                     got_lines + (["<connection closed>"] if conn.closed else []))


def diff_text(want, got):
    return "\n".join(difflib.unified_diff(want, got, "expected", "received", lineterm="", n=2))


# The "watch" case's connection (a log watcher) stays open until after the "stats" case, whose
# reference reply counts it (log_watchers 1); it is then closed gracefully, so `stats conns` lists
# only the listener and the current connection, as in the reference.
KEEP_OPEN_UNTIL_AFTER = {"watch": "stats"}


def replay(cases, groups, timeout):
    runner = rctest.Runner("transcript replay (memcached 1.6.18 reference)", time_limit=150)
    selected = [c for c in cases if c.group in groups]
    skipped = [c for c in cases if c.group not in groups]
    kept_open = []
    matched = 0
    with rctest.ServerProcess([]) as srv:
        for case in selected:
            conn = srv.connect(timeout=timeout)
            problems = []
            for i, ex in enumerate(case.exchanges):
                if conn.closed:
                    problems.append(f"exchange {i + 1}: connection already closed")
                    break
                d = run_exchange(conn, ex, timeout)
                if d is not None:
                    problems.append(f"exchange {i + 1}:\n{d}")
            if case.name in KEEP_OPEN_UNTIL_AFTER:
                kept_open.append((KEEP_OPEN_UNTIL_AFTER[case.name], conn))
            else:
                leftover = conn.close_graceful()
                if leftover and not case.exchanges[-1].expect_closed:
                    problems.append("unexpected extra bytes at the end of the case:\n"
                                    + "\n".join(show(leftover)))
            for until, c in [k for k in kept_open if k[0] == case.name]:
                c.close_graceful()  # bytes a watcher received are not compared
                kept_open.remove((until, c))
            if not srv.alive():
                problems.append("SERVER DIED")
            if problems:
                runner.fail(f"{case.name} mismatched", "\n".join(problems))
                if not srv.alive():
                    break
            else:
                matched += 1
                runner.passed += 1
                print(f"ok    - {case.name} matched", flush=True)
        for _, c in kept_open:
            c.close()
        srv.assert_alive("after the replay")
    print(f"# {matched} cases matched of {len(selected)}"
          + (f" ({len(skipped)} {'/'.join(sorted(set(c.group for c in skipped)))} cases not run)"
             if skipped else ""), flush=True)
    runner.finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--transcript", default=os.path.join(rctest.shared_dir(), "reference",
                                                         "memcached-1.6.18-transcript.txt"))
    ap.add_argument("--groups", default=os.environ.get("RC_TRANSCRIPT_GROUPS", "text,meta,bin"),
                    help="comma-separated case groups to run: text, meta, bin")
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for a reply")
    ap.add_argument("--list", action="store_true", help="list the parsed cases and exit")
    args = ap.parse_args()
    if not os.path.exists(args.transcript):
        raise rctest.Skip(f"reference transcript not found: {args.transcript}")
    cases = parse_transcript(args.transcript)
    if args.list:
        for c in cases:
            print(f"[{c.group}] {c.name}: {len(c.exchanges)} exchanges")
        return
    groups = set(g.strip() for g in args.groups.split(",") if g.strip())
    replay(cases, groups, args.timeout)


if __name__ == "__main__":
    rctest.main(main)
