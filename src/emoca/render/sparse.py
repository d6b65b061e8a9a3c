"""A constant sparse matrix as a differentiable linear map, with its transpose kept for the backward pass.

PyTorch's own backward through CSR products rebuilds the transpose on every call, which dominated the
cost of vertex normals; storing both orientations once makes the backward another CSR product.
"""

import warnings

import torch


class _SparseProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dense: torch.Tensor, matrix: torch.Tensor, transpose: torch.Tensor) -> torch.Tensor:
        ctx.transpose = transpose
        return matrix @ dense

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return ctx.transpose @ grad, None, None


class SparseLinearMap(torch.nn.Module):
    """y = M x for a constant sparse M (rows, cols), differentiable in x.

    Args:
        rows, cols: (K,) long coordinates of the non-zeros; repeated coordinates add up.
        values: (K,) float.
        shape: (n_rows, n_cols).
    """

    def __init__(self, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor,
                 shape: tuple[int, int]) -> None:
        super().__init__()
        coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, shape, check_invariants=True).coalesce()
        with warnings.catch_warnings():  # CSR support is labelled beta; the product used here is stable
            warnings.simplefilter("ignore", UserWarning)
            self.matrix = coo.to_sparse_csr()
            self.transpose = coo.t().coalesce().to_sparse_csr()

    def _apply(self, fn, recurse=True):  # keep the sparse operands on the module's device and dtype
        self.matrix, self.transpose = fn(self.matrix), fn(self.transpose)
        return super()._apply(fn, recurse)

    def forward(self, dense: torch.Tensor) -> torch.Tensor:
        """(n_cols, C) -> (n_rows, C)."""
        return _SparseProduct.apply(dense, self.matrix.to(dense.dtype), self.transpose.to(dense.dtype))
