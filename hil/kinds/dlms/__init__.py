"""Smart functions over the meter's DLMS/COSEM port, each judged against the bench's own truth (reference energy,
source state, bench clock): the load profile first."""
