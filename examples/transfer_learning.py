"""Transfer learning: reuse a trained convolutional backbone for a new task with few labels.

Run from the repository root:  python examples/transfer_learning.py [--quick]

1. Pre-train LeNet-5 on a large labelled *source* task: identifying the particle (proton, muon,
   pion, electron) in 4000 simulated detector events (convcore.datasets.detector_events).
2. Save its weights (``save_weights``, an .npz file) and load them into a fresh network
   (``load_weights``, names and shapes checked) — the same call reads a PyTorch state dict.
3. *Target* task: "proton or not" in a noisier detector, with only a few labelled events. Freeze
   the backbone (``trainable = False``), replace the head with a new 2-class layer, train only the
   head; compare with the same network trained from scratch on the same few events.

With a few dozen events the frozen backbone is far ahead: its features (tracks, their width and
the Bragg peak at a proton's end) were learned from thousands of events, and only 170 head
parameters are fitted. With many events the two approaches meet.
"""
import argparse
import os
import tempfile
import time

import numpy as np

from convcore import datasets, metrics, models, nn


def pretrain(n_events, epochs, seed):
    images, particles = datasets.detector_events(n_events, size=32, seed=seed, multiclass=True)
    nn.init.manual_seed(seed)
    model = models.lenet5(num_classes=4, in_channels=1)
    model.fit(images, particles, epochs=epochs, batch_size=32, lr=3e-3, seed=seed, verbose=0)
    test_x, test_y = datasets.detector_events(1000, size=32, seed=seed + 1, multiclass=True)
    accuracy = metrics.accuracy_score(test_y, model.predict(test_x))
    return model, accuracy


def with_new_head(backbone_file, seed):
    """LeNet-5 with the pre-trained weights, frozen, and a new trainable 2-class output layer."""
    model = models.load_weights(models.lenet5(num_classes=4, in_channels=1), backbone_file)
    model.trainable = False                       # freeze everything ...
    nn.init.manual_seed(seed)
    head = nn.Linear(84, 2, init="glorot_uniform")  # ... then a new, trainable head
    model.classifier = nn.Sequential(*list(model.classifier)[:4], head)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer epochs")
    args = parser.parse_args(argv)
    n_source, pre_epochs, head_epochs = (1500, 4, 60) if args.quick else (4000, 8, 100)
    sizes = (20, 200) if args.quick else (20, 50, 200, 1000)
    seed = 0
    start = time.perf_counter()
    backbone, source_acc = pretrain(n_source, pre_epochs, seed)
    print(f"source task (4 particle types, {n_source} events): test accuracy {source_acc:.3f}")
    with tempfile.TemporaryDirectory() as folder:
        path = models.save_weights(backbone, os.path.join(folder, "lenet5_particles.npz"))
        # the target detector is noisier; "proton / not proton" is the lecture's question
        pool_x, pool_y = datasets.detector_events(max(sizes), size=32, seed=10, noise=0.15)
        test_x, test_y = datasets.detector_events(2000, size=32, seed=11, noise=0.15)
        print(f"target task (proton or not, noisier detector), test on {len(test_y)} events")
        print(f"{'labelled events':>16}{'frozen backbone':>17}{'from scratch':>14}")
        for n in sizes:
            x, y = pool_x[:n], pool_y[:n]
            steps = max(1, head_epochs * 20 // n)  # about the same number of updates for every n
            frozen = with_new_head(path, seed)
            frozen.fit(x, y, epochs=steps, batch_size=20, lr=1e-2, seed=seed, verbose=0)
            nn.init.manual_seed(seed)
            scratch = models.lenet5(num_classes=2, in_channels=1)
            scratch.fit(x, y, epochs=steps, batch_size=20, lr=3e-3, seed=seed, verbose=0)
            acc_frozen = metrics.accuracy_score(test_y, frozen.predict(test_x))
            acc_scratch = metrics.accuracy_score(test_y, scratch.predict(test_x))
            print(f"{n:>16}{acc_frozen:>17.3f}{acc_scratch:>14.3f}")
        print(f"trainable parameters: frozen {frozen.num_parameters(trainable_only=True)}, "
              f"from scratch {scratch.num_parameters(trainable_only=True)}")
    print(f"total time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
