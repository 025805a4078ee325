#!/usr/bin/env python3
"""PyTorch accuracy peer of `fmnist_dist`: one training recipe with Keras' semantics, for comparing test accuracy.

Trains one fmnist_dist MLP recipe in PyTorch exactly as Keras (and fmnist_dist) define it, so that
the distribution of test accuracies over seeds can be compared with fmnist_dist's:

- Data: the four Fashion-MNIST .gz IDX files from --data-dir, read with gzip + numpy. The FIRST
  --validation-split (default 5000) training images are held out as the validation set (as
  fmnist_dist does), the rest are trained on; the test set is the 10,000 test images. Pixels / 255
  as float32.
- Model: the preset spec strings of launch/pytorch_peer.py (PRESETS, build_model), e.g.
  mlp = flatten-dense128-dense10, mlp-300-100 = flatten-dense300-dense100-dense10: Flatten ->
  Linear + ReLU ... -> Linear (logits). Initialised as Keras: Glorot-uniform weights
  (torch.nn.init.xavier_uniform_) and zero biases, drawn after torch.manual_seed(--seed).
- Loss: softmax cross-entropy, mean over the batch (torch.nn.CrossEntropyLoss).
- Optimizers as Keras, written by hand (NOT torch.optim.Adam, whose eps sits elsewhere):
    Adam (betas 0.9, 0.999, eps 1e-7):  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
        lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t);  theta -= lr_t * m / (sqrt(v) + eps)
    SGD (momentum 0):  theta -= lr * g
- Order: every epoch a fresh random permutation of the training set (numpy default_rng(--seed)),
  batches of --batch-size; the last partial batch is trained with its own size.
- Metrics as Keras: per epoch, loss and accuracy are the sample-weighted means over the epoch's
  training batches (each measured before that batch's update); val_loss / val_accuracy and the
  test figures are evaluated after training with the model in eval mode.

Usage:
  accuracy_peer.py --model mlp --epochs 5 --seed 1
  accuracy_peer.py --model mlp-300-100 --optimizer sgd --lr 0.01 --batch-size 64 --epochs 10 --seed 1 \
      [--data-dir data/fashion-mnist] [--validation-split 5000] [--threads 1] [--json PATH]

Threads: --threads T (default 1) sets torch.set_num_threads(T), one inter-op thread, and
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS = T before torch is imported (Debian's
torch does its GEMMs through libblas.so.3, which ignores set_num_threads), as pytorch_peer.py does.

Output: `initial val_loss: X - val_accuracy: Y` (the untrained model), then per epoch a Keras-like
line `Epoch e/E - Ns - loss: ... - accuracy: ... - val_loss: ... - val_accuracy: ...`, and at the
end `test_loss: X - test_accuracy: Y`. --json PATH also writes the settings, the per-epoch history
and the test figures to PATH. Exit status: 0 done, 1 error, 3 torch (or numpy) cannot be imported.
"""
import argparse
import math
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_peer import (  # noqa: E402  (no torch import at module level)
    IMAGE_SIZE, PRESETS, add_shared_arguments, build_model, import_torch, read_idx, require_non_negative,
    require_positive, write_json)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_arguments(p)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="adam (default) or sgd")
    p.add_argument("--lr", type=float, help="learning rate (default: 0.001 for adam, 0.01 for sgd, as Keras)")
    p.add_argument("--epochs", type=int, default=5, help="epochs (default 5)")
    p.add_argument("--seed", type=int, default=42, help="seed for the initialisation and the order (default 42)")
    p.add_argument("--validation-split", type=int, default=5000,
                   help="hold out the FIRST N training images for validation (default 5000; 0: none)")
    args = p.parse_args(argv)
    require_positive(p, args, ("batch_size", "epochs", "threads"))
    require_non_negative(p, args, ("validation_split",))
    if args.lr is None:
        args.lr = 1e-3 if args.optimizer == "adam" else 0.01
    return args


def load_split(np, torch, data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), 0x803, 4)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, 2)
    x = torch.from_numpy((images.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE))
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


class KerasAdam:
    """tf.keras.optimizers.Adam: eps added to sqrt(v) after the bias correction folded into lr_t."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-7):
        self.params, self.lr, self.b1, self.b2, self.eps, self.t = list(params), lr, beta1, beta2, eps, 0
        self.m = [p.detach().new_zeros(p.shape) for p in self.params]
        self.v = [p.detach().new_zeros(p.shape) for p in self.params]

    def step(self):
        self.t += 1
        lr_t = self.lr * math.sqrt(1.0 - self.b2 ** self.t) / (1.0 - self.b1 ** self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m.mul_(self.b1).add_(g, alpha=1.0 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1.0 - self.b2)
            p.data.addcdiv_(m, v.sqrt().add_(self.eps), value=-lr_t)


class PlainSgd:
    """tf.keras.optimizers.SGD with momentum 0: theta -= lr * g."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def step(self):
        for p in self.params:
            p.data.add_(p.grad, alpha=-self.lr)


def evaluate(torch, model, criterion_sum, x, y, batch=1000):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for begin in range(0, len(y), batch):
            logits = model(x[begin:begin + batch])
            loss += float(criterion_sum(logits, y[begin:begin + batch]))
            correct += int((logits.argmax(1) == y[begin:begin + batch]).sum())
    model.train()
    return loss / len(y), correct / len(y)


def main(argv):
    args = parse_args(argv)
    np, torch, nn = import_torch(args.threads)

    x_all, y_all = load_split(np, torch, args.data_dir, "train")
    if args.validation_split >= len(y_all):
        print(f"accuracy_peer.py: --validation-split {args.validation_split} leaves no training images",
              file=sys.stderr)
        return 1
    x_val, y_val = x_all[:args.validation_split], y_all[:args.validation_split]
    x_train, y_train = x_all[args.validation_split:], y_all[args.validation_split:]
    x_test, y_test = load_split(np, torch, args.data_dir, "t10k")

    torch.manual_seed(args.seed)
    spec = PRESETS.get(args.model, args.model)
    model = build_model(nn, spec)
    for layer in model.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(layer.weight)  # Keras' glorot_uniform
            nn.init.zeros_(layer.bias)
    params = sum(p.numel() for p in model.parameters())
    model.train()
    optimizer = KerasAdam(model.parameters(), args.lr) if args.optimizer == "adam" else PlainSgd(model.parameters(), args.lr)
    criterion = nn.CrossEntropyLoss()
    criterion_sum = nn.CrossEntropyLoss(reduction="sum")
    rng = np.random.default_rng(args.seed)

    count, B = len(y_train), args.batch_size
    steps = (count + B - 1) // B
    history = []
    result = {
        "framework": "pytorch", "torch_version": torch.__version__, "python": platform.python_version(),
        "model": args.model, "spec": spec, "params": params, "optimizer": args.optimizer, "lr": args.lr,
        "batch_size": B, "epochs": args.epochs, "seed": args.seed, "validation_split": args.validation_split,
        "train_count": count, "threads": torch.get_num_threads(), "history": history,
    }
    if args.validation_split > 0:
        init_loss, init_acc = evaluate(torch, model, criterion_sum, x_val, y_val)
        print(f"initial val_loss: {init_loss:.4f} - val_accuracy: {init_acc:.4f}")
        result["initial_val_loss"], result["initial_val_accuracy"] = init_loss, init_acc
    start = time.perf_counter()
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.from_numpy(rng.permutation(count).astype(np.int64))
        loss_sum, correct = 0.0, 0
        for step in range(steps):
            ids = order[step * B:(step + 1) * B]
            x, y = x_train[ids], y_train[ids]
            for p in model.parameters():
                p.grad = None
            logits = model(x)
            loss = criterion(logits, y)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss) * len(ids)
            correct += int((logits.detach().argmax(1) == y).sum())
            if epoch == 0 and step == 0:
                result["first_batch_loss"] = float(loss)
        row = {"epoch": epoch + 1, "loss": loss_sum / count, "accuracy": correct / count}
        line = (f"Epoch {epoch + 1}/{args.epochs} - {steps}/{steps} - {time.perf_counter() - t0:.1f}s"
                f" - loss: {row['loss']:.4f} - accuracy: {row['accuracy']:.4f}")
        if args.validation_split > 0:
            row["val_loss"], row["val_accuracy"] = evaluate(torch, model, criterion_sum, x_val, y_val)
            line += f" - val_loss: {row['val_loss']:.4f} - val_accuracy: {row['val_accuracy']:.4f}"
        history.append(row)
        print(line, flush=True)
    result["train_seconds"] = round(time.perf_counter() - start, 2)
    result["test_loss"], result["test_accuracy"] = evaluate(torch, model, criterion_sum, x_test, y_test)
    print(f"test_loss: {result['test_loss']:.4f} - test_accuracy: {result['test_accuracy']:.4f}")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
