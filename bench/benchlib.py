# bench/benchlib.py -- what the side-by-side benchmark scripts share: starting ringcached and
# memcached on free loopback ports pinned with taskset, running a pinned client to completion,
# stopping every process by its PID, reading CPU times from /proc, and the median (range) of
# paired rounds (spread).
#
# Every process started through here is in a list that is emptied at exit and on SIGINT, SIGTERM
# and SIGHUP (install_signal_handlers), each stopped by PID with SIGTERM, then SIGKILL; a child
# also gets PR_SET_PDEATHSIG, so it dies with the script even if the script is SIGKILLed.
#
# Used by side_by_side.py, latency.py, memory_hit_ratio.py, replication.py, idle_connections.py
# and hot_keys.py (bench/README.md).
import atexit
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")

# -- processes -------------------------------------------------------------------------------------

_live = []  # every Popen still running, killed at exit


def stop_all():
    """Stops every process started through this module that is still running."""
    for proc in list(_live):
        stop_process(proc, timeout=2.0)


atexit.register(stop_all)


def _on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


def install_signal_handlers():
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)


def _die_with_parent():
    """Child, before exec: SIGKILL it if this script dies (even by SIGKILL)."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop_process(proc, timeout=5.0):
    """SIGTERM the process by PID, wait, SIGKILL after `timeout`; always reaped."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    if proc in _live:
        _live.remove(proc)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid):
    """utime + stime of a process (all threads), from /proc/PID/stat; None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def vm_rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def wait_for_quiet(threshold_cores, max_wait, interval=0.5):
    """Waits until the machine's busy time over `interval` is at most `threshold_cores` (none of
    this script's processes run meanwhile, so all of it is someone else's), or `max_wait` seconds.
    Returns (seconds waited, the last load seen in cores)."""
    t0 = time.monotonic()
    while True:
        b0, _ = machine_times()
        time.sleep(interval)
        b1, _ = machine_times()
        cores = (b1 - b0) / CLK_TCK / interval
        waited = time.monotonic() - t0
        if cores <= threshold_cores or waited >= max_wait:
            return waited, cores


def machine_times():
    """(busy, total) jiffies of the whole machine, from /proc/stat's first line. Busy excludes
    idle and iowait; steal counts as busy (the hypervisor gave the time to someone else)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])
    return total - v[3] - v[4], total


def _reply_complete(buf):
    """A `stats` reply ends with END, or is one ERROR / CLIENT_ERROR / SERVER_ERROR line."""
    if not buf.endswith(b"\r\n"):
        return False
    last = buf[:-2].rsplit(b"\r\n", 1)[-1]
    return last == b"END" or last.startswith((b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR"))


class Server:
    """A ringcached or memcached process on a free loopback port, pinned with taskset. With
    threads=None no -t is passed: the server runs its own default number of workers."""

    def __init__(self, name, binary, threads=1, memory_mb=1024, cpu=None, extra=()):
        self.name, self.binary = name, binary
        self.threads, self.memory_mb, self.cpu = threads, memory_mb, cpu
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self._log = None

    def start(self, timeout=10.0):
        last = ""
        for _ in range(3):  # a port found free may be taken before the server binds it
            self.port = free_port()
            cmd = [self.binary, "-p", str(self.port), "-U", "0", "-l", "127.0.0.1",
                   "-m", str(self.memory_mb)]
            if self.threads is not None:
                cmd += ["-t", str(self.threads)]
            if os.geteuid() == 0:
                cmd += ["-u", "root"]
            cmd += self.extra
            if self.cpu is not None:
                cmd = ["taskset", "-c", str(self.cpu)] + cmd  # taskset execs: same PID
            self._log = tempfile.TemporaryFile()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            _live.append(self.proc)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return self
                except OSError:
                    time.sleep(0.01)
            last = f"{self.name} did not start: {' '.join(cmd)}\n{self.output()}"
            self.stop()
        raise RuntimeError(last)

    def output(self):
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    @property
    def pid(self):
        return self.proc.pid

    def cpu_seconds(self):
        return proc_cpu_seconds(self.proc.pid)

    def stats(self, sub=""):
        """The `stats` (or `stats SUB`) reply as a dict of strings; empty if the server does not
        know SUB (it answers ERROR or CLIENT_ERROR instead of END)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(f"stats {sub}".rstrip().encode() + b"\r\n")
            buf = b""
            while not _reply_complete(buf):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        out = {}
        for line in buf.decode().split("\r\n"):
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] == "STAT":
                out[parts[1]] = parts[2]
        return out

    def held(self, keys, prefix="key:", digits=12, batch=4096, timeout=600):
        """What the server holds of keys prefix + i (i < keys, rc-loadgen's names): (items,
        key + value bytes), by asking for every key's value size (`mg <key> s`, pipelined),
        so the two servers' data is counted alike, whatever each charges per item. Bumps the
        items it finds, as any read would: run it after what it measures."""
        items = data = 0
        deadline = time.monotonic() + timeout
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            for start in range(0, keys, batch):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name}: key scan passed {timeout} s")
                names = [f"{prefix}{i:0{digits}d}" for i in range(start, min(keys, start + batch))]
                s.sendall("".join(f"mg {k} s\r\n" for k in names).encode())
                buf = b""
                while buf.count(b"\r\n") < len(names):
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        raise RuntimeError(f"{self.name} closed the connection during a key scan")
                    buf += chunk
                for name, line in zip(names, buf.split(b"\r\n")):
                    if line.startswith(b"HD s"):
                        items += 1
                        data += len(name) + int(line[4:])
                    elif line != b"EN":
                        raise RuntimeError(f"{self.name}: unexpected reply to mg {name} s: {line!r}")
        return items, data

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            if self.proc.returncode not in (0, -signal.SIGTERM):
                print(f"  warning: {self.name} exited with status {self.proc.returncode}",
                      file=sys.stderr)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_client(cmd, cpu=None, timeout=600):
    """Runs a client to completion, pinned to `cpu`, killing it after `timeout` seconds.
    Returns (stdout, stderr, exit status)."""
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_die_with_parent)
    _live.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        raise RuntimeError(f"client timed out: {' '.join(cmd)}")
    finally:
        if proc in _live:
            _live.remove(proc)
    return out.decode(errors="replace"), err.decode(errors="replace"), proc.returncode


def children_cpu_seconds():
    """CPU seconds of all reaped children so far: run_client's communicate() reaps the client, so
    the difference around a run_client call is that client's CPU time."""
    t = os.times()
    return t.children_user + t.children_system



def timed_client(server, cmd, cpu=None, timeout=600):
    """Runs a client `cmd` (pinned to `cpu`) against a running `server`. Returns (its stdout, a
    dict of the run's accounting: wall_s, server_cpu_s, client_cpu_s, and other_cores, what the
    rest of the machine was busy with meanwhile, in cores). Raises if the client fails or the
    server died."""
    busy0, _ = machine_times()
    srv0, cli0, t0 = server.cpu_seconds(), children_cpu_seconds(), time.monotonic()
    out, err, rc = run_client(cmd, cpu=cpu, timeout=timeout)
    wall = time.monotonic() - t0
    cli = children_cpu_seconds() - cli0
    srv = server.cpu_seconds() - srv0
    busy1, _ = machine_times()
    if rc != 0:
        raise RuntimeError(f"client failed against {server.name} (status {rc}):\n"
                           f"{' '.join(cmd)}\n{err}{out}")
    if server.proc.poll() is not None:
        raise RuntimeError(f"{server.name} died during the run:\n{server.output()}")
    other = max(0.0, (busy1 - busy0) / CLK_TCK - srv - cli) / wall
    return out, {"wall_s": wall, "server_cpu_s": srv, "client_cpu_s": cli, "other_cores": other}

def loadgen_json(out):
    for line in out.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("rc-loadgen printed no JSON line:\n" + out)


def spread(values, fmt="{:.3f}"):
    """'median (min-max)' of the values, each formatted with `fmt`; "-" for none."""
    if not values:
        return "-"
    return (f"{fmt.format(statistics.median(values))} "
            f"({fmt.format(min(values))}-{fmt.format(max(values))})")


def version_of(binary, flag="-V"):
    """The first line `binary flag` prints, or "?"."""
    try:
        out = subprocess.run([binary, flag], capture_output=True, text=True, timeout=10).stdout
        return out.strip().splitlines()[0] if out.strip() else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"
