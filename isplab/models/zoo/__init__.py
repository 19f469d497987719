"""Team architectures of the MAI 2022 challenge (report section 4), one file per team."""
