"""Central-difference gradients, the reference every backward pass in the tests is checked against."""
import numpy as np


def numerical_grad(loss, array, eps=1e-6):
    """d loss() / d array by central differences; `array` is perturbed in place and restored.

    `loss` takes no argument and reads `array` (and anything else it closes over).
    """
    grad = np.zeros_like(array, dtype=float)
    for i in np.ndindex(array.shape):
        orig = array[i]
        array[i] = orig + eps
        up = loss()
        array[i] = orig - eps
        down = loss()
        array[i] = orig
        grad[i] = (up - down) / (2 * eps)
    return grad
