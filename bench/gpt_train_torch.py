#!/usr/bin/python3
"""Single-process PyTorch CPU baseline for the demo (README command 1).

Trains a job's byte GPT (the model of bench/gpt_step_torch.py, imported)
in one process on the same corpus, the same held-out split and the same
evaluation sequences as the coordinator (coordinator/dataset.cc: the text
files sorted and concatenated, the last eval_fraction of the bytes held
out, windows of context + 1 bytes overlapping by one; the coordinator
evaluates on the first eval.max_examples of them). AdamW with the job's
hyperparameters (`optimizer`; `inner_optimizer` for a job with local
steps), GPT-2's initialisation as tributary's, batches of --batch
consecutive sequences (the job's shards by default) in a seeded random
order each epoch, for --seconds of training: the cosine is stretched to end
with the time exactly as the coordinator stretches it
(coordinator/schedule_estimate.h), and training also stops when the job's
epochs are done. Evaluates every --eval_every_s seconds of training and at
the end; time spent evaluating is not training time (it is left out of
both the clock and the budget, which favours PyTorch a little: the
coordinator evaluates beside its workers).

stdout: CSV lines time_s,step,tokens,eval_loss. stderr: what it used
(threads, BLAS library, data, digests of the evaluation sequences).

Needs Debian's python3-torch and python3-protobuf, and protoc (the job
file is read with the project's own job.proto). Debian's torch uses
whatever libblas.so.3 is installed: with the reference BLAS a step is ~20x
slower; install libopenblas0-pthread for a fair baseline.

  /usr/bin/python3 bench/gpt_train_torch.py --seconds=600 \\
      [--job=deploy/jobs/gpt-fortunes.textproto] [--check_eval=FILE]
"""
import argparse
import fnmatch
import glob
import hashlib
import importlib
import math
import os
import random
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# coordinator/schedule_estimate.cc.
MIN_SMOOTHING_S, MAX_SMOOTHING_S, MIN_INTERVAL_S = 1.0, 60.0, 1.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--job", default=os.path.join(REPO, "deploy/jobs/gpt-fortunes.textproto"))
    parser.add_argument("--seconds", type=float, required=True, help="training time budget")
    parser.add_argument("--eval_every_s", type=float, default=60)
    parser.add_argument("--batch", type=int, default=0,
                        help="sequences per step; 0: the job's, shard_examples / local_steps")
    parser.add_argument("--torch_threads", type=int, default=1)
    parser.add_argument("--blas_threads", type=int, default=2, help="OPENBLAS_NUM_THREADS")
    parser.add_argument("--seed", type=int, default=None, help="default: the job's seed")
    parser.add_argument("--check_eval", default="",
                        help="the coordinator's evaluation records (build/bin/gpt_train --eval_records=FILE): "
                             "refuse to train unless ours are byte for byte the same")
    parser.add_argument("--protoc", default="protoc")
    return parser.parse_args()


def say(message):
    print(f"gpt_train_torch: {message}", file=sys.stderr, flush=True)


def load_job(path, protoc):
    """The JobSpec in `path`, parsed with the project's job.proto."""
    try:
        from google.protobuf import text_format
    except ImportError:
        sys.exit("gpt_train_torch: needs python3-protobuf (apt-get install python3-protobuf)")
    with tempfile.TemporaryDirectory(prefix="gpt_train_torch.") as out:
        subprocess.run([protoc, "-I", os.path.join(REPO, "proto"), f"--python_out={out}",
                        os.path.join(REPO, "proto/tributary/v1/job.proto")], check=True)
        sys.path.insert(0, out)
        job_pb2 = importlib.import_module("tributary.v1.job_pb2")
        sys.path.remove(out)
    with open(path) as f:
        job = text_format.Parse(f.read(), job_pb2.JobSpec())
    if not job.model.HasField("gpt") or not job.data.HasField("text"):
        sys.exit(f"gpt_train_torch: {path}: needs a gpt model and text data named in the job")
    spec = job.inner_optimizer if job.local_steps > 1 else job.optimizer
    if spec.kind != job_pb2.OptimizerSpec.ADAMW:
        sys.exit(f"gpt_train_torch: {path}: the baseline runs AdamW; the job's optimizer is not")
    return job, spec, job_pb2


def expand_files(text):
    """coordinator/dataset.cc ExpandFiles: regular files, excludes matched
    against the file name, sorted bytewise, no duplicates."""
    files = set()
    for pattern in text.files:
        matches = glob.glob(pattern)
        if not matches:
            sys.exit(f'gpt_train_torch: data.text.files: "{pattern}" matches no file')
        for path in matches:
            name = path[path.rfind("/") + 1:]
            if os.path.isfile(path) and not any(fnmatch.fnmatchcase(name, ex) for ex in text.exclude):
                files.add(path)
    return sorted(files, key=os.fsencode)


def sequence_records(data, context):
    """coordinator/dataset.cc SequenceRecords: windows of context + 1 bytes,
    one every `context` bytes."""
    return [data[start:start + context + 1] for start in range(0, len(data) - context, context)]


def load_text(job):
    """(train records, eval records) as the coordinator has them."""
    files = expand_files(job.data.text)
    corpus = b"".join(open(path, "rb").read() for path in files)
    context = job.model.gpt.context
    held_out = int(len(corpus) * job.data.text.eval_fraction)
    train = sequence_records(corpus[:len(corpus) - held_out], context)
    test = sequence_records(corpus[len(corpus) - held_out:], context)
    if job.eval.max_examples > 0:
        test = test[:job.eval.max_examples]
    say(f"{len(files)} files, {len(corpus)} bytes; {len(train)} training and {len(test)} evaluation sequences")
    return train, test


def check_eval(test, path):
    """Both digests, and a byte comparison with the coordinator's records."""
    ours = b"".join(test)
    say(f"evaluation sequences: sha256 {hashlib.sha256(ours).hexdigest()}, "
        f"first {hashlib.sha256(test[0]).hexdigest()} {test[0][:40]!r}...")
    if not path:
        return
    theirs = open(path, "rb").read()
    width = len(test[0])
    if theirs[:width] != test[0]:
        sys.exit(f"gpt_train_torch: the first evaluation sequence differs from {path}'s:\n"
                 f"  ours   {test[0][:60]!r}\n  theirs {theirs[:60]!r}")
    if theirs != ours:
        sys.exit(f"gpt_train_torch: the evaluation sequences differ from {path}'s "
                 f"({len(ours)} bytes against {len(theirs)})")
    say(f"evaluation sequences: byte for byte those of {path}")


def scheduled_lr(spec, job_pb2, step, total):
    """common/optim/optimizer.cc ScheduledLearningRate."""
    peak, warmup = spec.lr, spec.warmup_steps
    if step < warmup:
        return peak * (step + 1) / warmup
    if spec.schedule == job_pb2.OptimizerSpec.CONSTANT:
        return peak
    span = max(1.0, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span)))


class ScheduleEstimator:
    """coordinator/schedule_estimate.cc, line for line: the schedule's
    length from the measured rate, so that it ends with the time."""

    def __init__(self, budget_s, max_steps):
        self.budget_s, self.max_steps = budget_s, max(1, max_steps)
        self.smoothing_s = min(max(budget_s / 10, MIN_SMOOTHING_S), MAX_SMOOTHING_S)
        self.started, self.last_s, self.last_steps = False, 0.0, 0
        self.measured_s, self.rate, self.total_steps = 0.0, None, self.max_steps

    def observe(self, elapsed_s, steps):
        if not self.started:
            self.started, self.last_s, self.last_steps = True, elapsed_s, steps
            self.update()
            return
        dt = elapsed_s - self.last_s
        if dt < MIN_INTERVAL_S:
            self.total_steps = max(self.total_steps, steps + 1)
            return
        new_steps = steps - self.last_steps
        self.last_s, self.last_steps = elapsed_s, steps
        if steps == 0:
            return
        self.measured_s += dt
        rate = new_steps / dt
        alpha = min(1.0, dt / min(self.smoothing_s, self.measured_s))
        self.rate = rate if self.rate is None else self.rate + alpha * (rate - self.rate)
        self.update()

    def update(self):
        total = float(self.max_steps)
        if self.rate is not None:
            total = min(total, self.last_steps + self.rate * max(0.0, self.budget_s - self.last_s))
        # llround: halves away from zero (Python's round() rounds them to even).
        self.total_steps = max(int(math.floor(total + 0.5)), self.last_steps + 1)


def blas_library():
    """The BLAS this process loaded (Debian's torch takes libblas.so.3's alternative)."""
    with open("/proc/self/maps") as maps:
        names = {line.split()[-1] for line in maps if "blas" in line.lower()}
    return ", ".join(sorted(names)) or "none found"


def init_gpt2(model, layers, torch):
    """common/models/gpt.cc InitParams: N(0, 0.02), residual projections
    scaled by 1/sqrt(2 L), biases 0, LayerNorm gains 1."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.split(".")[-2].startswith("ln_"):
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                residual = name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight")
                p.normal_(0.0, 0.02 / math.sqrt(2 * layers) if residual else 0.02)


def to_tensor(records, torch):
    return torch.tensor(list(b"".join(records)), dtype=torch.long).view(len(records), -1)


def StepBatch(job):
    """The sequences of one optimizer step on a worker: a task's shard split into its local steps."""
    steps = max(1, job.local_steps)
    return (job.data.shard_examples + steps - 1) // steps


def evaluate(model, test, batch, torch):
    loss_sum, tokens = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(test), batch):
            x = to_tensor(test[i:i + batch], torch)
            n = x.shape[0] * (x.shape[1] - 1)
            loss_sum += model(x[:, :-1], x[:, 1:]).item() * n
            tokens += n
    return loss_sum / tokens


def train(args, job, spec, job_pb2, train_records, test, torch, gpt):
    gpt_spec = job.model.gpt
    torch.manual_seed(args.seed)
    model = gpt.Gpt(gpt_spec.layers, gpt_spec.heads, gpt_spec.channels, gpt_spec.context)
    init_gpt2(model, gpt_spec.layers, torch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, betas=(spec.beta1, spec.beta2), eps=spec.eps,
                                  weight_decay=spec.weight_decay)
    batch = args.batch or StepBatch(job)
    batches = [train_records[i:i + batch] for i in range(0, len(train_records), batch)]
    max_steps = len(batches) * job.budget.epochs
    estimator = ScheduleEstimator(args.seconds, max_steps)
    order, rng = [], random.Random(args.seed)
    step = tokens = 0
    trained_s, next_eval_s = 0.0, args.eval_every_s
    print("time_s,step,tokens,eval_loss", flush=True)
    while step < max_steps and trained_s < args.seconds:
        if not order:
            order = list(range(len(batches)))
            rng.shuffle(order)
        start = time.perf_counter()
        estimator.observe(trained_s, step)
        for group in optimizer.param_groups:
            group["lr"] = scheduled_lr(spec, job_pb2, step, estimator.total_steps)
        x = to_tensor(batches[order.pop()], torch)
        optimizer.zero_grad(set_to_none=True)
        model(x[:, :-1], x[:, 1:]).backward()
        if spec.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.clip_norm)
        optimizer.step()
        step += 1
        tokens += x.shape[0] * (x.shape[1] - 1)
        trained_s += time.perf_counter() - start
        if trained_s >= next_eval_s or step == max_steps or trained_s >= args.seconds:
            loss = evaluate(model, test, job.data.shard_examples, torch)
            print(f"{trained_s:.1f},{step},{tokens},{loss:.4f}", flush=True)
            next_eval_s += args.eval_every_s
    say(f"{step} steps in {trained_s:.1f} s of training; the schedule's last estimate was "
        f"{estimator.total_steps} steps")


def main():
    args = parse_args()
    # OpenBLAS reads its thread count when it is loaded, with torch.
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    job, spec, job_pb2 = load_job(args.job, args.protoc)
    if args.seed is None:
        args.seed = job.seed
    train_records, test = load_text(job)
    check_eval(test, args.check_eval)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.dont_write_bytecode = True  # No __pycache__ in the source tree.
    import torch
    import gpt_step_torch as gpt
    torch.set_num_threads(args.torch_threads)
    torch.ones(64, 64) @ torch.ones(64, 64)  # Loads the BLAS.
    blas = blas_library()
    say(f"torch {torch.__version__}: {torch.get_num_threads()} torch thread(s), "
        f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; BLAS: {blas}")
    if "openblas" not in blas:
        say("warning: not OpenBLAS: PyTorch runs far below its speed here (apt-get install libopenblas0-pthread)")
    say(f"AdamW lr {spec.lr:g} warmup {spec.warmup_steps} {job_pb2.OptimizerSpec.Schedule.Name(spec.schedule)} "
        f"clip {spec.clip_norm:g} weight decay {spec.weight_decay:g} betas ({spec.beta1:g}, {spec.beta2:g}); "
        f"batch {args.batch or StepBatch(job)}; {args.seconds:g} s")
    train(args, job, spec, job_pb2, train_records, test, torch, gpt)


if __name__ == "__main__":
    main()
