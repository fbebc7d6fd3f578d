import numpy as np
from scipy import sparse

from sc_synth._core._csr import RowsBuffer


def _pieces(dense, row_splits):
    for rows in np.split(np.arange(dense.shape[0]), row_splits):
        part = sparse.csr_matrix(dense[rows])
        yield part.data, part.indices, np.diff(part.indptr)


def test_pieces_assemble_into_the_matrix_they_came_from():
    rng = np.random.default_rng(0)
    dense = rng.poisson(0.4, size=(50, 30)).astype(np.float32)
    buffer = RowsBuffer(*dense.shape)
    for piece in _pieces(dense, [7, 20, 21, 44]):
        buffer.append(*piece)
    out = buffer.to_csr()
    assert out.dtype == np.float32
    assert out.indptr.dtype == out.indices.dtype == np.int32
    np.testing.assert_array_equal(out.toarray(), dense)


def test_buffer_grows_when_the_first_rows_are_sparser_than_the_rest():
    # The capacity projected from an empty first piece falls short; appending must grow it.
    dense = np.zeros((40, 25), dtype=np.float32)
    dense[10:] = 3.0
    buffer = RowsBuffer(*dense.shape)
    for piece in _pieces(dense, [10, 11]):
        buffer.append(*piece)
    np.testing.assert_array_equal(buffer.to_csr().toarray(), dense)
