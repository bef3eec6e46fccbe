"""Numbers in words."""




from lenet.core.units import human_bytes, human_count


def test_human_units():
    assert human_count(61_706) == "61,706" and human_count(2_500_000) == "2.5 million"
    assert human_bytes(999) == "999 bytes" and human_bytes(1_820) == "1.82 kB"
