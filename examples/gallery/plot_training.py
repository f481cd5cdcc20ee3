"""
Training curves and the confusion matrix
========================================

A small CNN learns to tell protons from other particles in simulated detector events (the
lecture's application). :meth:`~convcore.nn.Module.fit` returns the loss and accuracy of each
epoch on the training and validation events; :func:`convcore.plots.plot_history` draws them, and
:func:`convcore.plots.plot_confusion_matrix` the held-out events' confusion matrix.
"""
from convcore import datasets, metrics, nn, plots

X, y = datasets.detector_events(1600, size=32, seed=0)          # proton (1) or not (0)
X_train, y_train, X_test, y_test = X[:1200], y[:1200], X[1200:], y[1200:]
nn.init.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 2))
history = model.fit(X_train, y_train, epochs=6, batch_size=32, lr=3e-3, seed=0, verbose=0,
                    validation_data=(X_test, y_test))
curves = plots.plot_history(history)

# %%
# The confusion matrix counts, for each true class (rows), the predicted classes (columns).
predicted = model.predict(X_test)
cm = metrics.confusion_matrix(y_test, predicted)
print(metrics.classification_report(y_test, predicted, target_names=["not proton", "proton"]))
matrix = plots.plot_confusion_matrix(cm, labels=["not proton", "proton"])
