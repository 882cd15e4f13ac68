"""jaclab: the softmax Jacobian, its products and its properties, for the book "The Jacobian of Softmax".

Every function accepts torch tensors of any floating dtype (float16 and bfloat16
are computed in float32 and returned in their own dtype), numpy arrays and lists
(numpy in, numpy out). Bad input raises a clear error; inputs are never modified.
"""

from .explore import explore
from .jacobian import jacobian_via_autograd, log_softmax_jacobian, softmax_jacobian
from .losses import cross_entropy_grad
from .plots import visualize_jacobian
from .products import softmax_jvp, softmax_vjp
from .properties import LAMBDA_MAX_BOUND, JacobianReport, verify_jacobian_properties
from .softmax import log_softmax, softmax
from .spectrum import jacobian_eigenvalues, secular_function
from .sparsemax import sparsemax, sparsemax_jacobian, sparsemax_vjp
from .products import SoftmaxFunction, softmax_function

__version__ = "0.1.0"

__all__ = [
    "softmax",
    "softmax_jacobian",
    "log_softmax",
    "log_softmax_jacobian",
    "jacobian_via_autograd",
    "softmax_vjp",
    "softmax_jvp",
    "cross_entropy_grad",
    "verify_jacobian_properties",
    "JacobianReport",
    "LAMBDA_MAX_BOUND",
    "visualize_jacobian",
    "explore",
    "SoftmaxFunction",
    "softmax_function",
    "jacobian_eigenvalues",
    "secular_function",
    "sparsemax",
    "sparsemax_jacobian",
    "sparsemax_vjp",
]
