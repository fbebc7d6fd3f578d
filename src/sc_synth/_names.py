"""Names the tools write and the figures read: rows of the evaluation table, origins of cells."""

#: The row of one real half judged against the other: the ceiling on the data.
REFERENCE = "real (reference)"
#: The row of independent negative binomials per label (and batch): the floor.
BASELINE = "baseline (NB per label)"
#: The ``group`` of a row over all cells of a set, beside its rows per label.
ALL = "all"
#: The origin of real cells in a joint embedding, beside the synthetic sets' names.
REAL = "real"
#: The ``obs`` column of a joint embedding saying which set each cell comes from.
ORIGIN = "origin"
