"""Team architectures of the MAI 2022 challenge (report section 4), one file per team."""
from isplab.models.zoo import enerzai, fgarepnet, jmu, mincho, rfdcsa  # noqa: F401, I001  (part 1)
from isplab.models.zoo import casia, channel_team, dann, mialgo, rainbow, skdvsp  # noqa: F401  (part 2)
from isplab.models.zoo import arhire  # noqa: F401  (CVPRW 2025)
