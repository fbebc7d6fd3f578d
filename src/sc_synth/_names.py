"""Names of the rows every evaluation table has, shared by the evaluation and the figures."""

#: The row of one real half judged against the other: the ceiling on the data.
REFERENCE = "real (reference)"
#: The row of independent negative binomials per label (and batch): the floor.
BASELINE = "baseline (NB per label)"
#: The ``group`` of a row over all cells of a set, beside its rows per label.
ALL = "all"
