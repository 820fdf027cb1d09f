#!/usr/bin/env python3
"""The soak behind tools/soak: set-up, load, faults, resolution, checks and the report.

Modes: `main` (run by tools/soak) and `writer` (one writer process, started by main).

Every decision a writer sends is one file and one `dossier record FILE`; before it runs, the
writer appends a "sent" line to its journal, and after, a "done" line with the exit status and
what dossier said. A writer killed with -9 leaves a "sent" line without its "done": that decision
is in flight, its outcome unknown, and is resolved at the end like an "outcome unknown" answer,
by sending the same file again as the same person.
"""
import argparse
import datetime as dt
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

CITY = "上海"
FREE = "长宁区"       # a district with room for everyone
LIMITED = "静安区"    # a district whose quota binds (population set so the quota is small)
LIMITED_POPULATION = 3400   # 18 per 10,000 -> a quota of 6
LIMITED_QUOTA = LIMITED_POPULATION * 18 // 10000
# Each import hires two workers into a district of its own with a quota of 2, and while it runs
# every writer tries to hire one there too (issue 15, 1: a hire judged before the import commits).
IMPORT_DISTRICT_POPULATION = 1112   # -> a quota of 2
IMPORT_DISTRICT_QUOTA = IMPORT_DISTRICT_POPULATION * 18 // 10000


def import_district(k):
    return "试点%03d区" % k
SAMPLE_DISTRICT = "黄浦区"   # dossier-sample's first district; shared workers come from it
BASE_DAY = dt.date(2027, 1, 1)
DAYS_PER_SECOND = 1.0       # effective dates advance with the run's clock: one day per second
WRITERS = 8
SHARED_WORKERS = 3
BURST_EVERY = 10.0          # every 10 s the writers meet on the first shared worker at once
BURST_WINDOW = 1.5          # a writer whose next decision would start this close to a burst waits for it

OUTCOME_UNKNOWN = re.compile(r"outcome unknown", re.I)
VERSION_RACE = re.compile(r"stream \S+ is at version \d+, not (version )?\d+")


def now():
    return time.time()


def effective_day(t0, at=None):
    return BASE_DAY + dt.timedelta(days=int(((at or now()) - t0) * DAYS_PER_SECOND))


def classify(rc, out, err):
    """What a client was told, from dossier's exit status and messages."""
    text = (out or "") + "\n" + (err or "")
    if rc in (5, 6) or OUTCOME_UNKNOWN.search(text):
        return "unknown"
    if rc is None or rc < 0:
        return "killed"
    if rc == 0:
        return "duplicate" if (out or "").lstrip().startswith("already recorded") else "recorded"
    if rc == 1:
        if VERSION_RACE.search(text):
            return "refused-race"
        if "invalid input" in text:
            return "refused-invalid"
        if "may not record" in text:
            return "refused-scope"
        if "refused" in text:
            return "refused-rule"
        return "refused-other"
    if rc == 3:
        return "unavailable"
    return "error-%d" % rc


def told_recorded(c):
    return c in ("recorded", "duplicate")


def told_not_recorded(c):
    return c.startswith("refused") or c == "unavailable" or c.startswith("error")


def ambiguous(c):
    return c in ("unknown", "killed", "in-flight")


def run_dossier(bin_dir, url, args, timeout=180, stdin=None):
    env = dict(os.environ, DOSSIER_DATABASE_URL=url)
    try:
        p = subprocess.run([os.path.join(bin_dir, "dossier")] + args, env=env, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL if stdin is None else None,
                           input=stdin)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), "timed out"


def person_url(url, name, password):
    base = re.sub(r"\buser=\S+", "", url).strip()
    return "%s user=%s password=%s" % (base, name, password)


# ---------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------

class Writer:
    def __init__(self, a):
        self.id = a.id
        self.dir = a.dir
        self.bin = a.bin
        self.url = a.url
        self.run = a.run
        self.t0 = a.t0
        self.stop = a.stop
        self.rng = random.Random(os.getpid() ^ int(now() * 1000))
        with open(os.path.join(a.dir, "shared.json")) as f:
            self.shared = json.load(f)
        self.files = os.path.join(a.dir, "w%d" % a.id)
        os.makedirs(self.files, exist_ok=True)
        self.journal_path = os.path.join(a.dir, "w%d.journal" % a.id)
        self.seq = 0
        self.incarnation = 0
        # own workers: id -> {"district", "active", "seconded", "year", "level"}
        self.workers = {}
        self.doubtful = set()
        self.replay_journal()
        self.journal = open(self.journal_path, "a", buffering=1)
        self.journal.write(json.dumps({"t": "start", "pid": os.getpid(), "at": now(), "incarnation": self.incarnation}) + "\n")

    def replay_journal(self):
        """A restarted writer (after kill -9) picks up where its journal ends."""
        if not os.path.exists(self.journal_path):
            return
        sent = {}
        with open(self.journal_path) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue   # a line cut by kill -9
                if e["t"] == "start":
                    self.incarnation += 1
                elif e["t"] == "sent":
                    self.seq = max(self.seq, e["seq"] + 1)
                    sent[e["seq"]] = e
                elif e["t"] == "done" and e["seq"] in sent:
                    s = sent.pop(e["seq"])
                    self.apply(s["meta"], e["class"])
        for s in sent.values():   # in flight when killed
            self.apply(s["meta"], "in-flight")

    def apply(self, meta, c):
        w = meta.get("own")
        if not w:
            return
        if ambiguous(c):
            self.doubtful.add(w)
            self.workers.pop(w, None)
            return
        if not told_recorded(c):
            return
        op = meta["op"]
        if op == "hire":
            self.workers[w] = {"district": meta["district"], "active": True, "seconded": False,
                               "year": meta.get("year", 2027), "level": meta.get("level", 3)}
        elif w in self.workers:
            st = self.workers[w]
            if op == "exit":
                st["active"] = False
            elif op == "transfer":
                st["district"] = meta["district"]
            elif op == "secondment":
                st["seconded"] = True
            elif op == "secondment-end":
                st["seconded"] = False
            elif op == "assessment":
                st["year"] = meta["year"] + 1
            elif op == "level":
                st["level"] = meta["level"]

    def ref(self):
        return "SK-%s-w%d-%06d" % (self.run, self.id, self.seq)

    def base(self, kind, worker, authority="长宁区社会工作部"):
        return {"decision": kind, "worker": worker, "effective": effective_day(self.t0).isoformat(),
                "authority": authority, "reference": self.ref()}

    def hire(self, worker, district, level=None):
        d = self.base("hire", worker, "%s社会工作部" % district)
        community = {FREE: "新华一居民区", LIMITED: "静安一居民区"}.get(district, "试点一居民区")
        street = {FREE: "新华路街道", LIMITED: "静安寺街道"}.get(district, "试点街道")
        d.update({"name": "测试%d号" % self.rng.randint(1, 9999), "community": community, "street": street,
                  "district": district, "city": CITY, "post": "staff", "role": "staff",
                  "level": level or self.rng.randint(1, 12), "education": self.rng.choice(["associate", "bachelor", "master"])})
        return d

    def new_worker(self, prefix):
        return "%s%d-%s-%05d" % (prefix, self.id, self.run[-4:], self.seq)

    def active(self, district, seconded=None):
        return [w for w, s in self.workers.items() if s["active"] and s["district"] == district
                and (seconded is None or s["seconded"] == seconded)]

    def common_op(self, worker, st=None):
        """A decision for an active worker. For a shared worker (st None) a level change may meet a
        rule (its level is not known here: "already at level", a level-down without cause); for
        the writer's own worker it moves one level up and assesses each year once."""
        r = self.rng
        kinds = ["level-change", "post-change", "training", "qualification"]
        day = effective_day(self.t0)
        if st and st["year"] <= day.year:
            kinds.append("assessment")
        kind = r.choice(kinds)
        d = self.base(kind, worker)
        intent = "valid"
        if kind == "level-change":
            if st:
                if st["level"] >= 18:
                    kind = "training"
                    d = self.base(kind, worker)
                else:
                    d.update({"level": st["level"] + 1, "grounds": "seniority"})
                    return d, intent, {"op": "level", "level": st["level"] + 1}
            else:
                d.update({"level": r.randint(1, 18), "grounds": r.choice(["seniority", "education", "qualification", "other"])})
                intent = "contested"
        if kind == "post-change":
            post = r.choice(["principal", "deputy", "staff"])
            d.update({"post": post, "role": {"principal": "committee-director", "deputy": "deputy-director", "staff": "staff"}[post]})
        elif kind == "training":
            d.update({"kind": r.choice(["on-the-job", "special", "practical"]), "hours": r.randint(4, 40)})
        elif kind == "qualification":
            d.update({"certificate": r.choice(["assistant-social-worker", "social-worker", "senior-social-worker"])})
        elif kind == "assessment":
            d.update({"year": st["year"], "grade": r.choice(["excellent", "competent", "competent", "basically-competent"])})
            return d, intent, {"op": "assessment", "year": st["year"]}
        return d, intent, {"op": kind}

    def next_decision(self):
        """(decision or raw text, intent, meta). intent: valid | quota | override | invalid."""
        r = self.rng.random()
        if r < 0.30:
            worker = self.rng.choice(self.shared)
            d, intent, meta = self.common_op(worker)
            meta.update({"shared": worker})
            return d, intent, meta
        if r < 0.55:
            own = self.active(FREE)
            if len(own) < 4 or self.rng.random() < 0.1:
                w = self.new_worker("SK")
                d = self.hire(w, FREE)
                return d, "valid", {"op": "hire", "own": w, "district": FREE, "level": d["level"], "year": int(d["effective"][:4])}
            w = self.rng.choice(own)
            st = self.workers[w]
            x = self.rng.random()
            if st["seconded"]:
                return self.base("secondment-end", w), "valid", {"op": "secondment-end", "own": w}
            if x < 0.08:
                d = self.base("secondment", w)
                until = effective_day(self.t0) + dt.timedelta(days=90)
                d.update({"to": "新华路街道办事处", "toLevel": "street", "until": until.isoformat(),
                          "approval": "长宁区委社工部批〔2027〕%d号" % self.seq})
                return d, "valid", {"op": "secondment", "own": w}
            if x < 0.12:
                return self.base("resignation", w), "valid", {"op": "exit", "own": w}
            d, intent, meta = self.common_op(w, st)
            meta["own"] = w
            return d, intent, meta
        if r < 0.75:
            limited = self.active(LIMITED)
            x = self.rng.random()
            if limited and x < 0.45:
                w = self.rng.choice(limited)
                kind = self.rng.choice(["resignation", "dismissal"])
                d = self.base(kind, w, "静安区社会工作部")
                if kind == "dismissal":
                    d["grounds"] = "年度考核不称职"
                return d, "valid", {"op": "exit", "own": w}
            free = self.active(FREE, seconded=False)
            if free and x < 0.6:
                w = self.rng.choice(free)
                d = self.base("transfer", w, "上海市社会工作部")
                d.update({"community": "静安一居民区", "street": "静安寺街道", "district": LIMITED})
                return d, "quota", {"op": "transfer", "own": w, "district": LIMITED}
            w = self.new_worker("SJ")
            d = self.hire(w, LIMITED)
            intent = "quota"
            if self.rng.random() < 0.08:
                d["override"] = "soak: 街道急需，区社会工作部特批"
                d["overrideApproval"] = "区社会工作部批〔soak〕1号"
                intent = "override"
            return d, intent, {"op": "hire", "own": w, "district": LIMITED, "level": d["level"], "year": int(d["effective"][:4])}
        # Decisions that must be refused.
        k = self.rng.randrange(7)
        own = self.active(FREE, seconded=False)
        if k == 0:
            d = self.base("level-change", self.rng.choice(self.shared))
            d.update({"level": 19, "grounds": "seniority"})
            return d, "invalid", {"op": "bad-level"}
        if k == 1 and own:
            d = self.base("secondment", self.rng.choice(own))
            d.update({"to": "长宁区民政局", "toLevel": "county", "until": (effective_day(self.t0) + dt.timedelta(days=30)).isoformat(),
                      "approval": "无"})
            return d, "invalid", {"op": "county-secondment"}
        if k == 2:
            d = self.base("level-change", "NOHIRE-%d-%d" % (self.id, self.seq))
            d.update({"level": 5, "grounds": "seniority"})
            return d, "invalid", {"op": "unknown-worker"}
        if k == 3:
            d = self.base("hire", "BJ%d-%d" % (self.id, self.seq), "北京市朝阳区民政局")
            d.update({"name": "越权", "community": "团结湖社区", "street": "团结湖街道", "district": "朝阳区", "city": "北京",
                      "post": "staff", "role": "staff", "level": 3, "education": "bachelor"})
            return d, "invalid", {"op": "out-of-scope"}
        if k == 4:
            d = self.base("training", self.rng.choice(self.shared))
            d.update({"kind": "special", "hours": 8, "salary": 100})
            return d, "invalid", {"op": "unknown-field"}
        if k == 5 and own:
            w = self.rng.choice(own)
            d = self.hire(w, FREE)
            return d, "invalid", {"op": "rehire-active"}
        if own:
            d = self.base("secondment-end", self.rng.choice(own))
            return d, "invalid", {"op": "no-open-secondment"}
        d = self.base("level-change", "NOHIRE-%d-%d" % (self.id, self.seq))
        d.update({"level": 5, "grounds": "seniority"})
        return d, "invalid", {"op": "unknown-worker"}

    def burst(self):
        """A decision for the hot worker sent at the same moment by every writer free then:
        always valid (training or a qualification), so any refusal is a same-stream failure."""
        nb = self.t0 + BURST_EVERY * math.ceil((now() - self.t0) / BURST_EVERY)
        if nb == self.last_burst or nb - now() > BURST_WINDOW:
            return None
        self.last_burst = nb
        time.sleep(max(0.0, nb - now()))
        worker = self.shared[0]
        if self.rng.random() < 0.5:
            d = self.base("training", worker)
            d.update({"kind": "special", "hours": self.rng.randint(2, 16)})
        else:
            d = self.base("qualification", worker)
            d.update({"certificate": self.rng.choice(["assistant-social-worker", "social-worker", "senior-social-worker"])})
        return d, "burst", {"op": "burst", "shared": worker}

    def during_import(self):
        """While an import fills a district's quota, one hire there (once per district)."""
        try:
            with open(os.path.join(self.dir, "importing.json")) as f:
                district = json.load(f)["district"]
        except (OSError, ValueError, KeyError):
            return None
        if district in self.tried:
            return None
        self.tried.add(district)
        w = self.new_worker("SP")
        return self.hire(w, district), "import-race", {"op": "hire", "own": w, "district": district}

    def loop(self):
        self.last_burst = None
        self.tried = set()
        while not os.path.exists(self.stop):
            d, intent, meta = self.burst() or self.during_import() or self.next_decision()
            if isinstance(meta.get("own"), str) and meta["own"] in self.doubtful:
                continue
            path = os.path.join(self.files, "%06d.json" % self.seq)
            with open(path, "w") as f:
                json.dump(d, f, ensure_ascii=False)
            entry = {"t": "sent", "seq": self.seq, "ref": d["reference"], "worker": d.get("worker"), "kind": d["decision"],
                     "intent": intent, "file": path, "start": now(), "meta": meta}
            self.journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
            rc, out, err = run_dossier(self.bin, self.url, ["record", path], timeout=120)
            c = classify(rc, out, err)
            self.journal.write(json.dumps({"t": "done", "seq": self.seq, "ref": d["reference"], "rc": rc, "class": c,
                                           "end": now(), "out": out[-300:], "err": err[-600:]}, ensure_ascii=False) + "\n")
            self.apply(meta, c)
            self.seq += 1
            if c == "unavailable":
                time.sleep(0.2 + self.rng.random() * 0.3)
            else:
                time.sleep(self.rng.random() * 0.05)


def writer_main(a):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    Writer(a).loop()


# ---------------------------------------------------------------------------------------------
# The orchestrator
# ---------------------------------------------------------------------------------------------

class Soak:
    def __init__(self, a):
        self.a = a
        self.dir = a.dir
        self.bin = a.bin
        self.url = a.url
        self.run = time.strftime("%m%d%H%M%S")
        self.minutes = float(a.minutes)
        self.stopfile = os.path.join(self.dir, "stop")
        self.lock = threading.Lock()
        self.events = []          # (time, text) of faults and notable things
        self.faults = {"kill -9 writer": 0, "kill -9 follower": 0, "kill -9 import": 0, "pg_ctl restart -m immediate": 0}
        self.restarts = []        # {"at", "up", "ok"}
        self.writers = {}         # id -> Popen
        self.writer_spawns = {i: 0 for i in range(1, WRITERS + 1)}
        self.follower = None
        self.follower_starts = 0
        self.follower_exits = []  # exit statuses of follower processes not killed by us
        self.import_proc = None
        self.imports = []         # dicts
        self.kill_next_import = threading.Event()
        self.reads = {}           # (command, class) -> count
        self.read_failures = []
        self.stopping = threading.Event()
        self.failures = []
        self.passwords = {}
        self.log = open(os.path.join(self.dir, "soak.log"), "a", buffering=1)

    def say(self, text):
        line = "[%6.1fs] %s" % (now() - getattr(self, "t0", now()), text)
        print(line, file=sys.stderr, flush=True)
        self.log.write(line + "\n")

    def su(self, args, timeout=600, stdin=None):
        return run_dossier(self.bin, self.url, args, timeout=timeout, stdin=stdin)

    def psql(self, sql):
        p = subprocess.run(["psql", self.url, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError("psql: %s" % p.stderr.strip())
        return p.stdout

    def must(self, what, args, stdin=None):
        rc, out, err = self.su(args, stdin=stdin)
        if rc != 0:
            raise RuntimeError("%s failed (exit %s): %s %s" % (what, rc, out[-500:], err[-1500:]))
        return out

    # -- set-up -------------------------------------------------------------------------------

    def setup(self):
        t = now()
        self.must("dossier init", ["init"])
        for name in ["soak_w%d" % i for i in range(1, WRITERS + 1)] + ["soak_import"]:
            pw = "soak-%s-%06d" % (name, random.randrange(10 ** 6))
            self.must("user add " + name, ["user", "add", name, "--role", "hr", "--jurisdiction", CITY, "--password-stdin"], stdin=pw + "\n")
            self.passwords[name] = pw
        pw = "soak-reader-%06d" % random.randrange(10 ** 6)
        self.must("user add soak_reader", ["user", "add", "soak_reader", "--role", "reviewer", "--password-stdin"], stdin=pw + "\n")
        self.passwords["soak_reader"] = pw
        sample = os.path.join(self.dir, "sample.jsonl")
        # Without the sample's gazetteer: the soak places its own workers in districts and
        # communities of 上海 that the sample does not establish.
        subprocess.run([os.path.join(self.bin, "dossier-sample"), "--seed", "15", "--workers", "40", "--no-places", "--output", sample],
                       check=True, capture_output=True)
        out = self.must("import of the sample", ["import", sample])
        self.say("set-up: " + out.strip())
        # Population and policy for 2026 on: room in the city and one district, a small quota in another.
        decisions = [
            {"decision": "population", "jurisdiction": CITY, "year": 2026, "urbanPopulation": 30000000},
            {"decision": "population", "jurisdiction": CITY + "/" + FREE, "year": 2026, "urbanPopulation": 10000000},
            {"decision": "population", "jurisdiction": CITY + "/" + LIMITED, "year": 2026, "urbanPopulation": LIMITED_POPULATION},
            {"decision": "policy", "jurisdiction": CITY + "/" + LIMITED, "parameters": {"quotaPerTenThousand": 18}},
        ]
        self.pool = int(self.minutes * 60 / 5) + 10
        for k in range(1, self.pool + 1):
            decisions.append({"decision": "population", "jurisdiction": CITY + "/" + import_district(k), "year": 2026,
                              "urbanPopulation": IMPORT_DISTRICT_POPULATION})
        path = os.path.join(self.dir, "setup.jsonl")
        with open(path, "w") as f:
            for i, d in enumerate(decisions):
                d.update({"effective": "2026-01-01", "authority": "上海市统计局", "reference": "SOAK-SETUP-%d" % i})
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        self.must("population and policy", ["import", path])
        rc, out, err = self.su(["roster", "--district", SAMPLE_DISTRICT, "--as-of", "2025-12-31", "--json"])
        roster = json.loads(out)
        rows = roster if isinstance(roster, list) else roster.get("workers", roster.get("roster", []))
        active = [r["worker"] for r in rows if r.get("status", "active") == "active"]
        if len(active) < SHARED_WORKERS:
            raise RuntimeError("the sample has only %d active workers in %s" % (len(active), SAMPLE_DISTRICT))
        self.shared = active[:SHARED_WORKERS]
        with open(os.path.join(self.dir, "shared.json"), "w") as f:
            json.dump(self.shared, f)
        self.setup_seconds = now() - t
        self.say("set-up done in %.1fs; shared workers %s; %s quota %d" % (self.setup_seconds, " ".join(self.shared), LIMITED, LIMITED_QUOTA))

    # -- processes ----------------------------------------------------------------------------

    def start_writer(self, i):
        name = "soak_w%d" % i
        args = [sys.executable, os.path.abspath(__file__), "writer", "--id", str(i), "--dir", self.dir, "--bin", self.bin,
                "--url", person_url(self.url, name, self.passwords[name]), "--run", self.run, "--t0", repr(self.t0),
                "--stop", self.stopfile]
        err = open(os.path.join(self.dir, "w%d.stderr" % i), "a")
        self.writers[i] = subprocess.Popen(args, start_new_session=True, stdout=err, stderr=err)
        self.writer_spawns[i] += 1

    def supervise_writers(self):
        """Writers killed by a fault are started again (a new process reading its journal)."""
        while not self.stopping.is_set():
            for i, p in list(self.writers.items()):
                if p.poll() is not None and not self.stopping.is_set():
                    self.start_writer(i)
            time.sleep(0.5)

    def follower_loop(self):
        out = open(os.path.join(self.dir, "follower.log"), "a")
        while not self.stopping.is_set():
            env = dict(os.environ, DOSSIER_DATABASE_URL=self.url)
            with self.lock:
                self.follower = subprocess.Popen([os.path.join(self.bin, "dossier"), "project", "--follow"], env=env,
                                                 stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
                self.follower_starts += 1
            rc = self.follower.wait()
            if rc != -9 and not self.stopping.is_set():
                self.follower_exits.append(rc)
            if not self.stopping.is_set():
                time.sleep(1.0)

    def reader_loop(self):
        url = person_url(self.url, "soak_reader", self.passwords["soak_reader"])
        rng = random.Random(7)
        while not self.stopping.is_set():
            w = rng.choice(self.shared)
            day = effective_day(self.t0).isoformat()
            for cmd in (["show", w], ["trace", w], ["roster", "--district", FREE, "--as-of", day],
                        ["roster", "--district", LIMITED, "--as-of", day], ["quota", "--as-of", day]):
                if self.stopping.is_set():
                    break
                rc, out, err = run_dossier(self.bin, url, cmd, timeout=120)
                c = "ok" if rc == 0 else ("unavailable" if rc == 3 else "failed (exit %s)" % rc)
                key = (cmd[0], c)
                self.reads[key] = self.reads.get(key, 0) + 1
                if rc not in (0, 3):
                    self.read_failures.append("%s: exit %s: %s" % (" ".join(cmd), rc, (err or out).strip()[-300:]))
                if rc == 3:
                    time.sleep(0.5)
            time.sleep(0.2)

    def make_import(self, n):
        """A JSON Lines file: new workers hired into the free district with a training and an
        assessment each, two hires into the limited district, and one line that must be refused."""
        k = len(self.imports) + 1
        day = effective_day(self.t0)
        lines = []
        for j in range(n):
            w = "SI%03d-%s-%04d" % (k, self.run[-4:], j)
            ref = lambda s: "SK-%s-i%03d-%04d%s" % (self.run, k, j, s)
            lines.append({"decision": "hire", "worker": w, "name": "导入%d" % j, "community": "虹桥二居民区", "street": "新华路街道",
                          "district": FREE, "city": CITY, "post": "staff", "role": "staff", "level": 2, "education": "bachelor",
                          "effective": day.isoformat(), "authority": "长宁区社会工作部", "reference": ref("h")})
            lines.append({"decision": "training", "worker": w, "kind": "initial", "hours": 24, "effective": day.isoformat(),
                          "authority": "新华路街道", "reference": ref("t")})
            lines.append({"decision": "assessment", "worker": w, "year": day.year, "grade": "competent",
                          "effective": day.isoformat(), "authority": "新华路街道", "reference": ref("a")})
        district = import_district(min(k, self.pool))
        for j in range(2):
            lines.append({"decision": "hire", "worker": "SIJ%03d-%s-%d" % (k, self.run[-4:], j), "name": "试点导入%d" % j,
                          "community": "试点一居民区", "street": "试点街道", "district": district, "city": CITY, "post": "staff",
                          "role": "staff", "level": 2, "education": "bachelor", "effective": day.isoformat(),
                          "authority": "上海市社会工作部", "reference": "SK-%s-i%03d-q%d" % (self.run, k, j)})
        lines.append({"decision": "level-change", "worker": "NOHIRE-i%03d" % k, "level": 4, "grounds": "seniority",
                      "effective": day.isoformat(), "authority": "长宁区社会工作部", "reference": "SK-%s-i%03d-bad" % (self.run, k)})
        path = os.path.join(self.dir, "import-%03d.jsonl" % k)
        with open(path, "w") as f:
            for d in lines:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        return {"n": k, "file": path, "rejects": path + ".rejects", "refs": [d["reference"] for d in lines], "district": district}

    def run_import(self, imp, kill_after=None):
        url = person_url(self.url, "soak_import", self.passwords["soak_import"])
        env = dict(os.environ, DOSSIER_DATABASE_URL=url)
        args = [os.path.join(self.bin, "dossier"), "import", imp["file"], "--skip-invalid", "--rejects", imp["rejects"]]
        if os.path.exists(imp["rejects"]):
            os.unlink(imp["rejects"])
        imp["start"] = now()
        imp["killed"] = False
        flag = os.path.join(self.dir, "importing.json")
        if not imp.get("resolving"):
            with open(flag + ".tmp", "w") as f:
                json.dump({"district": imp["district"]}, f, ensure_ascii=False)
            os.rename(flag + ".tmp", flag)
        p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             text=True, start_new_session=True)
        with self.lock:
            self.import_proc = p
        killer = None
        if kill_after is not None:
            def kill():
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                    imp["killed"] = True
                    self.faults["kill -9 import"] += 1
                    self.say("fault: kill -9 import %d after %.2fs" % (imp["n"], now() - imp["start"]))
                else:
                    imp["kill_missed"] = True
            killer = threading.Timer(kill_after, kill)
            killer.start()
        try:
            out, err = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
        if killer:
            killer.cancel()
        with self.lock:
            self.import_proc = None
        if os.path.exists(flag):
            os.unlink(flag)
        imp["end"] = now()
        imp["rc"] = p.returncode
        imp["out"], imp["err"] = out[-400:], err[-1500:]
        imp["class"] = "killed" if imp.get("killed") else classify(p.returncode, out, err)
        return imp

    def importer_loop(self):
        rng = random.Random(11)
        durations = []
        while not self.stopping.is_set():
            deadline = now() + rng.uniform(6, 14)
            while now() < deadline and not self.stopping.is_set() and not self.kill_next_import.is_set():
                time.sleep(0.1)
            if self.stopping.is_set():
                break
            kill_after = None
            if self.kill_next_import.is_set():
                self.kill_next_import.clear()
                typical = sorted(durations)[len(durations) // 2] if durations else 1.0
                kill_after = rng.uniform(0.05, max(0.2, typical * 0.9))
            imp = self.make_import(rng.randint(60, 160))
            self.imports.append(imp)
            self.run_import(imp, kill_after)
            if imp["class"] == "recorded":
                durations.append(imp["end"] - imp["start"])
            self.say("import %d: %s (exit %s, %.2fs)%s" % (imp["n"], imp["class"], imp["rc"], imp["end"] - imp["start"],
                                                         (": " + (imp["out"] or imp["err"]).strip().splitlines()[0][:160]) if (imp["out"] or imp["err"]).strip() else ""))

    # -- faults -------------------------------------------------------------------------------

    def pg_ctl(self, *args):
        cmd = [os.path.join(self.a.pg_bin, "pg_ctl"), "-D", os.path.join(self.dir, "data")] + list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180)

    def fault(self, kind):
        if kind == "kill -9 writer":
            i = random.randrange(1, WRITERS + 1)
            p = self.writers.get(i)
            if p and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                self.faults[kind] += 1
                self.say("fault: kill -9 writer %d (pid %d, with its dossier record)" % (i, p.pid))
        elif kind == "kill -9 follower":
            with self.lock:
                p = self.follower
            if p and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                self.faults[kind] += 1
                self.say("fault: kill -9 follower (pid %d)" % p.pid)
        elif kind == "kill -9 import":
            with self.lock:
                p = self.import_proc
            if p and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                imp = self.imports[-1]
                imp["killed"] = True
                self.faults[kind] += 1
                self.say("fault: kill -9 import %d (running for %.2fs)" % (imp["n"], now() - imp["start"]))
            else:
                self.kill_next_import.set()   # the importer starts one now and kills it part-way
        elif kind == "pg_ctl restart -m immediate":
            # Half the restarts fall just after a burst starts, while the writers are committing
            # decisions for one worker (a crash between COMMIT and its answer: issue 15, 3).
            if random.random() < 0.5:
                nb = self.t0 + BURST_EVERY * math.ceil((now() - self.t0) / BURST_EVERY)
                time.sleep(max(0.0, nb - now()) + random.uniform(0.05, 0.4))
            at = now()
            p = self.pg_ctl("-l", os.path.join(self.dir, "server.log"), "-m", "immediate", "-w", "-t", "120", "-s", "restart")
            up = now()
            self.faults[kind] += 1
            self.restarts.append({"at": at, "up": up, "ok": p.returncode == 0, "err": p.stderr.strip()})
            self.say("fault: pg_ctl restart -m immediate (server accepting again after %.2fs%s)" %
                     (up - at, "" if p.returncode == 0 else "; pg_ctl failed: " + p.stderr.strip()))

    def load(self):
        self.t0 = now()
        duration = self.minutes * 60
        self.end_at = self.t0 + duration
        for i in range(1, WRITERS + 1):
            self.start_writer(i)
        threads = [threading.Thread(target=f, daemon=True) for f in
                   (self.supervise_writers, self.follower_loop, self.reader_loop, self.importer_loop)]
        for t in threads:
            t.start()
        kinds = list(self.faults)
        first = kinds[:]
        random.shuffle(first)   # every kind of fault at least once, then at random
        weights = {"kill -9 writer": 4, "kill -9 follower": 2, "kill -9 import": 2, "pg_ctl restart -m immediate": 3}
        at = self.t0 + random.uniform(5, 9)
        spacing = max(4.0, min(12.0, duration / 7.0))
        while now() < self.end_at:
            if now() >= at and now() < self.end_at - 4:
                kind = first.pop() if first else random.choices(kinds, [weights[k] for k in kinds])[0]
                self.fault(kind)
                at = now() + random.uniform(spacing * 0.5, spacing * 1.5)
            time.sleep(0.1)
        self.say("load over: stopping writers, reader, importer and follower")
        # Writers finish the decision they are sending; nothing is killed here.
        open(self.stopfile, "w").close()
        self.stopping.set()
        deadline = now() + 150
        for i, p in self.writers.items():
            try:
                p.wait(timeout=max(1, deadline - now()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                self.say("writer %d did not stop within the time allowed: killed (its decision in flight is resolved below)" % i)
        for t in threads[2:]:
            t.join(timeout=max(1, deadline - now()))
        with self.lock:
            f = self.follower
        if f and f.poll() is None:
            f.send_signal(signal.SIGTERM)
            try:
                f.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(f.pid, signal.SIGKILL)
        threads[1].join(timeout=5)
        self.load_seconds = now() - self.t0

    # -- after the load -----------------------------------------------------------------------

    def journals(self):
        """Every decision a writer sent: {ref: entry}, with its outcome or "in-flight"."""
        decisions = {}
        for i in range(1, WRITERS + 1):
            path = os.path.join(self.dir, "w%d.journal" % i)
            if not os.path.exists(path):
                continue
            with open(path) as f:
                for line in f:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    if e["t"] == "sent":
                        e.update({"writer": i, "class": "in-flight", "rc": None})
                        decisions[e["ref"]] = e
                    elif e["t"] == "done" and e["ref"] in decisions:
                        decisions[e["ref"]].update({"class": e["class"], "rc": e["rc"], "end": e["end"],
                                                    "out": e["out"], "err": e["err"]})
        return decisions

    def server_ready(self):
        for _ in range(120):
            p = subprocess.run(["psql", self.url, "-X", "-At", "-c", "select 1"], capture_output=True, text=True)
            if p.returncode == 0:
                return True
            st = self.pg_ctl("status")
            if st.returncode == 3:   # not running
                self.pg_ctl("-l", os.path.join(self.dir, "server.log"), "-w", "-t", "120", "-s", "start")
            time.sleep(1)
        return False

    def resolve(self, decisions):
        """Sends every decision whose outcome is unknown again, as the same person."""
        resolved = {}
        for ref, d in sorted(decisions.items()):
            if not ambiguous(d["class"]):
                continue
            name = "soak_w%d" % d["writer"]
            url = person_url(self.url, name, self.passwords[name])
            for attempt in range(10):
                rc, out, err = run_dossier(self.bin, url, ["record", d["file"]], timeout=120)
                c = classify(rc, out, err)
                if c not in ("unavailable", "unknown", "killed"):
                    break
                time.sleep(1)
            d["resend"] = c
            d["resend_text"] = (out + err).strip()[-300:]
            resolved[ref] = c
        for imp in self.imports:
            if not ambiguous(imp["class"]):
                continue   # told committed, refused or not imported: checked against the log as it stands
            first = dict(imp)
            imp["resolving"] = True
            for attempt in range(10):
                self.run_import(imp)
                if imp["class"] not in ("unavailable", "unknown", "killed"):
                    break
                time.sleep(1)
            imp["first"] = {k: first[k] for k in ("class", "rc", "out", "err") if k in first}
            imp["resolved"] = True
        return resolved

    def log_rows(self):
        rows = self.psql("SELECT reference, count(*), count(DISTINCT recorded_at), min(recorded_at)::text "
                         "FROM dossier.events WHERE reference LIKE 'SK-%s-%%' GROUP BY reference" % self.run)
        present = {}
        for line in rows.splitlines():
            ref, n, clocks, at = line.split("|")
            present[ref] = (int(n), at)
        return present

    def check(self, name, ok, detail=""):
        self.results.append((name, ok, detail))
        if not ok:
            self.failures.append(name)

    def checks(self):
        self.results = []
        decisions = self.journals()
        self.decisions = decisions
        if not self.server_ready():
            self.check("the server answers after the load", False, "psql cannot connect")
            return
        # Imports that were killed, refused for a lost connection, or unknown are run again first, then
        # single decisions are sent again.
        self.unresolved_before = {r: d["class"] for r, d in decisions.items() if ambiguous(d["class"])}
        self.resolve(decisions)
        present = self.log_rows()

        # 1. every decision a writer was told about
        wrong = []
        for ref, d in sorted(decisions.items()):
            n = present.get(ref, (0, None))[0]
            c = d["class"]
            if told_recorded(c) and n != 1:
                wrong.append("%s (%s %s, writer %d) was acknowledged as recorded; the log holds it %d times" % (ref, d["kind"], d["worker"], d["writer"], n))
            elif told_not_recorded(c) and n != 0:
                wrong.append("%s (%s %s, writer %d) was reported %s (exit %s: %s); the log holds it %d time(s)" %
                             (ref, d["kind"], d["worker"], d["writer"], c, d["rc"], (d.get("err") or d.get("out") or "").strip()[-240:], n))
            elif ambiguous(c):
                r = d.get("resend", "")
                if told_recorded(r) and n != 1:
                    wrong.append("%s: unknown outcome, re-sent: %s; the log holds it %d times" % (ref, r, n))
                elif told_not_recorded(r) and n != 0:
                    wrong.append("%s: unknown outcome, re-send said %s; the log holds it %d times" % (ref, r, n))
                elif not told_recorded(r) and not told_not_recorded(r):
                    wrong.append("%s: unknown outcome not resolved by re-sending (%s)" % (ref, r))
        self.check("every acknowledged decision is in the log once, every refused or not-recorded one absent, every unknown one resolved",
                   not wrong, "\n".join(wrong[:40]) + ("\n… and %d more" % (len(wrong) - 40) if len(wrong) > 40 else ""))

        bad = [d for d in decisions.values() if d["intent"] == "invalid" and (told_recorded(d["class"]) or told_recorded(d.get("resend", "")))]
        self.check("no decision that breaks a rule, a scope or the input format was recorded", not bad,
                   "\n".join("%s %s: %s" % (d["ref"], d["meta"]["op"], d.get("out", "").strip()[:200]) for d in bad[:20]))

        races = [d for d in decisions.values() if d["class"] == "refused-race" or d.get("resend") == "refused-race"]
        self.check("no decision refused because another was recorded for the same worker at the same time (issue 15, 2)", not races,
                   "%d refused with \"stream … is at version N, not M\", e.g.\n%s" %
                   (len(races), "\n".join("%s %s %s (writer %d): %s" % (d["ref"], d["kind"], d["worker"], d["writer"],
                                                                      (d.get("err") or "").strip()[-220:]) for d in races[:5])))

        # 2. imports: all or nothing, every line either in the log once or in the rejects
        wrong = []
        for imp in self.imports:
            clocks = {present[r][1] for r in imp["refs"] if r in present}
            dup = [r for r in imp["refs"] if present.get(r, (0,))[0] > 1]
            if dup:
                wrong.append("import %d: %d lines in the log more than once" % (imp["n"], len(dup)))
            if len(clocks) > 1:
                wrong.append("import %d: its lines were committed by %d transactions" % (imp["n"], len(clocks)))
            c = imp["class"]
            rejected = set()
            if os.path.exists(imp["rejects"]):
                with open(imp["rejects"]) as f:
                    for line in f:
                        rejected.add(json.loads(json.loads(line)["input"])["reference"])
            if c == "recorded":
                missing = [r for r in imp["refs"] if r not in rejected and r not in present]
                kept = [r for r in rejected if r in present]
                if missing or kept:
                    wrong.append("import %d (exit 0%s): %d lines neither in the log nor rejected, %d rejected lines in the log" %
                                 (imp["n"], ", after a re-run" if imp.get("resolved") else "", len(missing), len(kept)))
                bad_line = "SK-%s-i%03d-bad" % (self.run, imp["n"])
                if bad_line not in rejected:
                    wrong.append("import %d: the line that must be refused was not" % imp["n"])
            elif told_not_recorded(c):
                there = [r for r in imp["refs"] if r in present]
                if there:
                    wrong.append("import %d was reported %s (exit %s: %s) but %d of its lines are in the log" %
                                 (imp["n"], c, imp["rc"], imp["err"].strip()[-200:], len(there)))
            else:
                wrong.append("import %d: outcome %s not resolved by running it again" % (imp["n"], c))
        self.check("every import is all or nothing and its outcome matches the log", not wrong, "\n".join(wrong[:20]))

        # 3. verify
        rc, out, err = self.su(["checkpoint"])
        if rc != 0:
            self.check("dossier checkpoint", False, (out + err).strip()[-500:])
        rc, out, err = self.su(["verify"])
        self.verify_text = (out + err).strip().splitlines()[-1:] if (out + err).strip() else []
        self.check("dossier verify passes", rc == 0, "exit %s: %s" % (rc, (out + err).strip()[-800:]))

        # 4. projections equal a rebuild
        self.projection_check()

        # 5. quotas
        self.quota_check()

        # reads
        self.check("every read answered or found the database unavailable (exit 3)", not self.read_failures,
                   "\n".join(self.read_failures[:10]))
        self.check("the follower only stopped when killed or when the server went away", all(rc in (0, 1, 3) for rc in self.follower_exits),
                   "exit statuses: %s" % self.follower_exits)

    def dump_projections(self, tag):
        tables = ["dossier_read.worker_timeline", "dossier_read.audit_trail", "dossier_read.assessments",
                  "dossier_read.level_history", "dossier_read.assignments", "dossier_read.quotas", "dossier.placements"]
        dumps = {}
        for t in tables:
            dumps[t] = self.psql("SELECT md5(string_agg(r::text, E'\\n' ORDER BY r::text)), count(*) FROM %s r" % t).strip()
        day = effective_day(self.t0, self.end_at).isoformat()
        for args in (["roster", "--district", FREE, "--as-of", day, "--json"], ["roster", "--district", LIMITED, "--as-of", day, "--json"],
                     ["quota", "--as-of", day, "--json"], ["exceptions", "--json"], ["show", self.shared[0], "--json"]):
            rc, out, err = self.su(args)
            dumps[" ".join(args[:3])] = "exit %s %s" % (rc, out if rc == 0 else err)
            with open(os.path.join(self.dir, "%s.%s.out" % (tag, "_".join(args[:2]))), "w") as f:
                f.write(out + err)
        return dumps

    def projection_check(self):
        rc, out, err = self.su(["project"])
        if rc != 0:
            self.check("dossier project (catch up before the comparison)", False, (out + err).strip()[-500:])
        before = self.dump_projections("before")
        self.psql("SELECT 1")
        rc1, out1, err1 = self.su(["rebuild"])
        rc2, out2, err2 = self.su(["rebuild", "placements"])
        if rc1 != 0 or rc2 != 0:
            self.check("dossier rebuild and rebuild placements", False, (out1 + err1 + out2 + err2).strip()[-800:])
            return
        after = self.dump_projections("after")
        diff = [k for k in before if before[k] != after[k]]
        detail = []
        for k in diff:
            detail.append("%s: before %s | after rebuild %s" % (k, before[k][:160].replace("\n", " "), after[k][:160].replace("\n", " ")))
        self.check("projections kept under faults equal a rebuild from the log (tables and roster/quota/exceptions/show output)",
                   not diff, "\n".join(detail))

    def quota_check(self):
        """Each small district's headcount on every day a placement there starts (from the placements,
        rebuilt from the log) against its quota plus the placements there that a decision recorded
        over the quota with an override began (exceptions containing quota)."""
        quotas = {LIMITED: LIMITED_QUOTA}
        for k in range(1, self.pool + 1):
            quotas[import_district(k)] = IMPORT_DISTRICT_QUOTA
        spans = {}
        for l in self.psql("SELECT district, worker, from_date::text, coalesce(until_date::text, '') FROM dossier.placements "
                           "WHERE city = '%s'" % CITY).splitlines():
            district, worker, start, until = l.split("|")
            spans.setdefault(district, []).append((worker, start, until))
        overridden = {tuple(l.split("|")) for l in self.psql(
            "SELECT e.payload->>'district', substr(a.stream, 8), a.effective::text FROM dossier_read.audit_trail a JOIN dossier.events e USING (position) "
            "WHERE a.decision IN ('hire', 'transfer') AND 'quota' = ANY (a.exceptions)").splitlines()}
        over = []
        self.quota_figures = {}
        for district, quota in quotas.items():
            worst = (0, "-")
            for day in sorted({s[1] for s in spans.get(district, [])}):
                on = [s for s in spans[district] if s[1] <= day and (s[2] == "" or s[2] > day)]
                allowed = quota + sum(1 for s in on if (district, s[0], s[1]) in overridden)
                if len(on) > worst[0]:
                    worst = (len(on), day)
                if len(on) > allowed:
                    who = ", ".join(s[0] for s in on)
                    over.append("%s on %s: %d workers (%s), quota %d%s" % (district, day, len(on), who, quota,
                                (" + %d overridden" % (allowed - quota)) if allowed > quota else ""))
            self.quota_figures[district] = {"quota": quota, "busiest": worst[0], "day": worst[1],
                                            "exceptions": sum(1 for o in overridden if o[0] == district)}
        self.check("quotas hold: no district over its quota (%s %d, each import's district %d) except by decisions recorded over it with an override"
                   % (LIMITED, LIMITED_QUOTA, IMPORT_DISTRICT_QUOTA), not over, "\n".join(over[:10]))
        rc, out, err = self.su(["quota", "--as-of", effective_day(self.t0, self.end_at).isoformat(), "--json"])
        over = []
        if rc == 0:
            for q in json.loads(out):
                if not q.get("compliant", True) and q["jurisdiction"][len(CITY) + 1:] not in quotas:
                    over.append("%s: %s of %s" % (q["jurisdiction"], q["headcount"], q["quota"]))
        self.check("dossier quota: every other jurisdiction within its quota", rc == 0 and not over, "; ".join(over) or err[-300:])

    # -- report -------------------------------------------------------------------------------

    def figures(self):
        ds = list(self.decisions.values())
        count = lambda pred: sum(1 for d in ds if pred(d))
        f = {}
        f["sent"] = len(ds)
        f["by_class"] = {}
        for d in ds:
            f["by_class"][d["class"]] = f["by_class"].get(d["class"], 0) + 1
        f["acknowledged"] = count(lambda d: told_recorded(d["class"]))
        f["refused"] = count(lambda d: d["class"].startswith("refused"))
        f["unavailable"] = count(lambda d: d["class"] == "unavailable")
        f["errors"] = count(lambda d: d["class"].startswith("error"))
        f["ambiguous"] = {c: count(lambda d, c=c: d["class"] == c) for c in ("unknown", "killed", "in-flight")}
        f["resolved"] = {}
        for d in ds:
            if ambiguous(d["class"]):
                r = d.get("resend", "?")
                r = "recorded" if r == "recorded" else ("already recorded" if r == "duplicate" else r)
                f["resolved"][r] = f["resolved"].get(r, 0) + 1
        f["by_intent"] = {}
        for d in ds:
            key = d["intent"]
            slot = f["by_intent"].setdefault(key, {})
            slot[d["class"]] = slot.get(d["class"], 0) + 1
        first = [i.get("first", i)["class"] for i in self.imports]
        f["imports"] = {
            "run": len(self.imports),
            "committed": sum(1 for c in first if c == "recorded"),
            "killed": sum(1 for c in first if c == "killed"),
            "refused or unavailable": sum(1 for c in first if told_not_recorded(c)),
            "unknown": sum(1 for c in first if c == "unknown"),
            "rerun after a fault": sum(1 for i in self.imports if i.get("resolved")),
        }
        f["reads"] = {"%s %s" % k: v for k, v in sorted(self.reads.items())}
        f["faults"] = dict(self.faults)
        f["writer processes started"] = sum(self.writer_spawns.values())
        f["follower starts"] = self.follower_starts
        rec = []
        oks = sorted(d["end"] for d in ds if told_recorded(d["class"]) and "end" in d)
        starts = {d["ref"]: d["start"] for d in ds}
        for r in self.restarts:
            nxt = [d["end"] for d in ds if told_recorded(d["class"]) and d.get("start", 0) >= r["at"] and "end" in d]
            rec.append({"server up": round(r["up"] - r["at"], 2),
                        "next record": round(min(nxt) - r["at"], 2) if nxt else None})
        f["restarts"] = rec
        f["throughput"] = round(f["acknowledged"] / self.load_seconds, 1) if self.load_seconds else 0
        events = self.psql("SELECT count(*) FROM dossier.events").strip()
        f["log events"] = int(events)
        f["quota"] = getattr(self, "quota_figures", {})
        return f

    def report(self):
        f = self.figures()
        self.fig = f
        commit = os.environ.get("DOSSIER_SOAK_COMMIT", "")
        dirty = ""
        if not commit:
            commit = subprocess.run(["git", "-C", self.a.repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "?"
            dirty = subprocess.run(["git", "-C", self.a.repo, "status", "--porcelain", "--untracked-files=all", "--", "Sources", "schema"],
                                   capture_output=True, text=True).stdout.strip()
        rec = f["restarts"]
        rec_text = ", ".join("%ss/%s" % (r["server up"], ("%ss" % r["next record"]) if r["next record"] is not None else "none")
                             for r in rec) or "none"
        nexts = [r["next record"] for r in rec if r["next record"] is not None]
        lines = []
        lines.append("## %s — commit %s%s, %g minute%s of load" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit,
                                                                    " (with uncommitted changes to Sources/ or schema/)" if dirty else "",
                                                                    self.minutes, "" if self.minutes == 1 else "s"))
        lines.append("")
        lines.append("`tools/soak --minutes %g`: set-up %.0f s, load %.0f s, checks %.0f s; %d writers, a reader, imports, a follower; "
                     "%d events in the log at the end." % (self.minutes, self.setup_seconds, self.load_seconds, self.check_seconds,
                                                          WRITERS, f["log events"]))
        lines.append("")
        lines.append("| figure | value |")
        lines.append("| --- | --- |")
        lines.append("| decisions sent (one `dossier record` each) | %d |" % f["sent"])
        lines.append("| acknowledged (exit 0) | %d (%.1f per second) |" % (f["acknowledged"], f["throughput"]))
        refused = {k: v for k, v in f["by_class"].items() if k.startswith("refused")}
        lines.append("| refused (exit 1) | %d (%s) |" % (f["refused"], ", ".join("%s %d" % (k[8:], v) for k, v in sorted(refused.items()))))
        lines.append("| database unavailable (exit 3) | %d |" % f["unavailable"])
        if f["errors"]:
            lines.append("| other exit statuses | %d |" % f["errors"])
        amb = f["ambiguous"]
        lines.append("| outcome unknown | %d said \"outcome unknown\" (exit 6), %d killed by a timeout, %d in flight when their writer was killed |" %
                     (amb["unknown"], amb["killed"], amb["in-flight"]))
        lines.append("| unknown ones, sent again | %s |" % (", ".join("%s %d" % kv for kv in sorted(f["resolved"].items())) or "none"))
        bi = f["by_intent"]
        for intent, label in (("burst", "valid decisions for one worker, sent by all writers at once every %g s" % BURST_EVERY), ("valid", "other valid decisions"), ("contested", "level changes of shared workers to a random level"), ("quota", "hires/transfers into %s (quota %d)" % (LIMITED, LIMITED_QUOTA)),
                              ("import-race", "hires into an import's district (quota %d) while the import fills it" % IMPORT_DISTRICT_QUOTA),
                              ("override", "the same with an override"), ("invalid", "decisions that must be refused")):
            if intent in bi:
                lines.append("| %s | %s |" % (label, ", ".join("%s %d" % kv for kv in sorted(bi[intent].items()))))
        im = f["imports"]
        lines.append("| imports | %d run, %d committed at once, %d killed by kill -9, %d refused or cut by the server restarting, %d run again after a fault |" %
                     (im["run"], im["committed"], im["killed"], im["refused or unavailable"], im["rerun after a fault"]))
        lines.append("| reads (reviewer) | %s |" % ", ".join("%s %d" % kv for kv in f["reads"].items()))
        lines.append("| faults injected | %s |" % ", ".join("%s %d" % kv for kv in f["faults"].items()))
        lines.append("| processes started again | writers %d times (after kill -9); the follower %d times (%d after kill -9, %d after it exited by itself: %s) |" %
                     (f["writer processes started"] - WRITERS, f["follower starts"] - 1, f["faults"]["kill -9 follower"],
                      len(self.follower_exits), ", ".join("exit %s × %d" % (x, self.follower_exits.count(x))
                                                          for x in sorted(set(self.follower_exits), key=str)) or "-"))
        lines.append("| recovery after each restart (server accepting / next acknowledged record) | %s |" % rec_text)
        if nexts:
            lines.append("| recovery to the next record: median, worst | %.2f s, %.2f s |" % (sorted(nexts)[len(nexts) // 2], max(nexts)))
        q = f["quota"].get(LIMITED)
        if q:
            lines.append("| %s busiest day | %d workers on %s (quota %d, %d override exceptions) |" % (LIMITED, q["busiest"], q["day"], q["quota"], q["exceptions"]))
        pool = [v for k, v in f["quota"].items() if k != LIMITED and v["day"] != "-"]
        if pool:
            lines.append("| imports' districts (quota %d each) | %d used; busiest %d workers |" % (IMPORT_DISTRICT_QUOTA, len(pool), max(v["busiest"] for v in pool)))
        lines.append("")
        lines.append("Checks:")
        lines.append("")
        for name, ok, detail in self.results:
            lines.append("- %s %s" % ("PASS" if ok else "**FAIL**", name))
            if not ok and detail:
                for dl in detail.splitlines()[:12]:
                    lines.append("    - " + dl.replace("|", "\\|"))
        lines.append("")
        text = "\n".join(lines)
        print("\n" + text)
        with open(os.path.join(self.dir, "report.md"), "w") as fh:
            fh.write(text)
        with open(os.path.join(self.dir, "figures.json"), "w") as fh:
            json.dump(f, fh, ensure_ascii=False, indent=1)
        if self.a.record == "1":
            path = os.path.join(self.a.repo, "RELIABILITY.md")
            if not os.path.exists(path):
                with open(path, "w") as fh:
                    fh.write(HEADER)
            with open(path, "a") as fh:
                fh.write("\n" + text)
            print("tools/soak: figures appended to RELIABILITY.md", file=sys.stderr)

    def main(self):
        code = 0
        try:
            self.setup()
            self.load()
            t = now()
            self.checks()
            self.check_seconds = now() - t
            self.report()
            if self.failures:
                print("\ntools/soak: %d check(s) failed:\n  %s" % (len(self.failures), "\n  ".join(self.failures)), file=sys.stderr)
                code = 1
            else:
                print("\ntools/soak: every check passed", file=sys.stderr)
        finally:
            self.stopping.set()
            open(self.stopfile, "w").close()
            for p in list(self.writers.values()) + [self.follower, self.import_proc]:
                if p is not None and p.poll() is None:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        return code


HEADER = """# Reliability under load and faults

Figures from `tools/soak` (issue 15): a bounded mixed load against a private PostgreSQL while
faults are injected at random times, then checks of the log against what every client was told.
Each run appends a dated section below (newest last).

What a run does. Set-up: `dossier init` as the superuser; 8 HR clerks (`hr`, scope 上海), an
import clerk and a reviewer, each logging in with a password; a sample district from
`dossier-sample` (seed 15, 40 workers) imported; population for 2026 on: room in the city and in
长宁区, 3,400 urban residents in 静安区 (a quota of 6 at 18 per 10,000) and 1,112 in each of a pool
of districts 试点NNN区 (a quota of 2 each), one per import.

Load, for the minutes asked: 8 writer processes, each sending one decision per
`dossier record FILE` so that every outcome is known (exit 0 recorded, 1 refused, 3 database
unavailable, 6 or "outcome unknown": unknown), every decision with a reference unique to the run:

- every 10 s the writers free then all send at the same moment a valid decision (training, a
  qualification) for one shared worker;
- about 30% for three shared sample workers (level changes to a random level, post changes,
  training, qualifications), all eight writers at once;
- 25% for the writer's own workers in 长宁区 (hires, one-level-up changes, yearly assessments,
  post changes, training, secondments and their ends, resignations);
- 20% hires into, transfers into and exits from 静安区 (8% of the hires carry an override);
- 25% decisions that must be refused (level 19, an unknown field, a county-level secondment, a
  worker never hired, a hire in 北京 outside the clerk's scope, a second hire of an active worker,
  ending a secondment that is not open);
- while an import runs, each writer tries once to hire into that import's district.

Effective dates advance one day per second from 2027-01-01. A reviewer runs show, trace, roster
and quota in a loop. Every 6–14 s an import (`--skip-invalid --rejects`) of 60–160 new workers (a
hire, a training and an assessment each), two hires into its own 试点 district and one line that
must be refused. `dossier project --follow` runs throughout. Faults, one every few seconds at
random, each kind at least once: kill -9 of a writer (with its `dossier record` in flight), of the
follower, of an import part-way, and `pg_ctl restart -m immediate` of the server. Killed writers
and the follower (also when it exits by itself) are started again.

Checks at the end: every decision a writer was told was recorded is in the log exactly once;
every one it was told was refused or not recorded (exit 1 or 3) is absent; every unknown one (exit
6, "outcome unknown", or in flight when its writer was killed) is sent again as the same person,
after which it is in the log once or was refused; no decision that must be refused was recorded;
no decision was refused for a same-worker race ("stream … is at version N, not M"); every import
is all or nothing (its lines committed by one transaction) and matches what it said, and a killed
one, run again, leaves every line in the log once or in its rejects; `dossier checkpoint` and
`dossier verify` pass; after `dossier project`, the projection tables, `dossier.placements` and the
roster, quota, exceptions and show output equal what `dossier rebuild` and `dossier rebuild
placements` give; no district is over its quota on any day (from the placements) except by
decisions recorded over it with an override; every other jurisdiction is within its quota; every
read answered or found the database unavailable.

Recovery after a restart is measured from the moment `pg_ctl restart -m immediate` starts:
"server accepting" when pg_ctl returns, "next record" when the first `dossier record` started after
that moment is acknowledged.
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["main", "writer"])
    ap.add_argument("--dir")
    ap.add_argument("--url")
    ap.add_argument("--bin")
    ap.add_argument("--pg-bin")
    ap.add_argument("--minutes", default="1")
    ap.add_argument("--record", default="1")
    ap.add_argument("--repo")
    ap.add_argument("--id", type=int)
    ap.add_argument("--run")
    ap.add_argument("--t0", type=float)
    ap.add_argument("--stop")
    a = ap.parse_args()
    if a.mode == "writer":
        writer_main(a)
        return 0
    return Soak(a).main()


if __name__ == "__main__":
    sys.exit(main())
