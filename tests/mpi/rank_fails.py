"""Run under ``mpiexec -n 2``: rank 1's loss raises at its third step of training.

Usage: rank_fails.py [caught]. Rank 0 is then waiting in the gradient all-reduce; the job
must end (non-zero exit, the error shown) instead of hanging. Plain: the error is uncaught
(chainrule.distributed's excepthook aborts). "caught": the script catches it and exits 1 as
a command-line tool does; the Trainer itself must abort the job.
"""
import sys

import numpy as np

import chainrule as cr
from chainrule import distributed as dist
from chainrule import nn, optim
from chainrule.train import Trainer


class FailingLoss:
    def __init__(self):
        self.calls = 0
        self.inner = nn.CrossEntropyLoss()

    def __call__(self, outputs, target):
        self.calls += 1
        if dist.rank() == 1 and self.calls == 3:
            raise RuntimeError("rank 1 cannot compute this loss (deliberate failure)")
        return self.inner(outputs, target)


cr.manual_seed(0)
X = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
y = (X[:, 0] > 0).astype(np.int64)
model = nn.MLP([3, 8, 2])
trainer = Trainer(model, FailingLoss(), optim.SGD(model.parameters(), lr=0.1), verbose=0)
if sys.argv[1:] == ["caught"]:
    try:
        trainer.fit((X, y), epochs=2, batch_size=4)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
else:
    trainer.fit((X, y), epochs=2, batch_size=4)
