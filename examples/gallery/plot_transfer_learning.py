"""
Transfer learning with few labels
=================================

LeNet-5 is first trained on a large *source* task: naming the particle (proton, muon, pion,
electron) in simulated detector events. Its convolutional backbone is then frozen and only a new
2-class head is trained for the *target* task, "proton or not" in a noisier detector, with few
labelled events — against the same network trained from scratch on the same events.
(``models.resnet18(weights="IMAGENET1K_V1")`` starts the same way from ImageNet.)
"""
import matplotlib.pyplot as plt

from convcore import datasets, metrics, models, nn

source_X, source_y = datasets.detector_events(2000, size=32, seed=0, multiclass=True)
nn.init.manual_seed(0)
backbone = models.lenet5(num_classes=4, in_channels=1)
backbone.fit(source_X, source_y, epochs=4, batch_size=32, lr=3e-3, seed=0, verbose=0)
state = backbone.state_dict()

test_X, test_y = datasets.detector_events(1000, size=32, seed=2, noise=0.1)
pool_X, pool_y = datasets.detector_events(400, size=32, seed=3, noise=0.1)


def frozen_with_new_head(seed):
    model = models.lenet5(num_classes=4, in_channels=1)
    model.load_state_dict(state)
    model.trainable = False                    # freeze the backbone ...
    nn.init.manual_seed(seed)
    head = nn.Linear(84, 2)                    # ... and give it a new, trainable head
    model.classifier = nn.Sequential(*list(model.classifier)[:4], head)
    return model


def from_scratch(seed):
    nn.init.manual_seed(seed)
    return models.lenet5(num_classes=2, in_channels=1)


sizes = [20, 50, 100, 400]
scores = {"frozen backbone": [], "from scratch": []}
for n in sizes:
    for name, make in (("frozen backbone", frozen_with_new_head), ("from scratch", from_scratch)):
        model = make(seed=n)
        model.fit(pool_X[:n], pool_y[:n], epochs=15, batch_size=16, lr=3e-3, seed=n, verbose=0)
        scores[name].append(metrics.accuracy_score(test_y, model.predict(test_X)))
    print(f"{n:4d} labelled events: frozen {scores['frozen backbone'][-1]:.3f}, "
          f"from scratch {scores['from scratch'][-1]:.3f}")

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in scores.items():
    ax.plot(sizes, values, marker="o", label=name)
ax.set_xscale("log")
ax.set_xlabel("labelled events of the target task")
ax.set_ylabel("accuracy on 1000 test events")
ax.legend()
fig.tight_layout()
