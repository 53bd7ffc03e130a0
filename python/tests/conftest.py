import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def header_version():
    """BITNET_QUANT_VERSION_STRING of include/bitnet_quant.h."""
    text = (REPO / "include" / "bitnet_quant.h").read_text()
    return re.search(r'#define BITNET_QUANT_VERSION_STRING "([^"]+)"', text).group(1)


def pytest_report_header(config):
    import bitnet_quant
    return f"bitnet_quant {bitnet_quant.__version__} from {bitnet_quant.__file__}, " \
           f"library {bitnet_quant.library_path()} " \
           f"({os.environ.get('BITNET_QUANT_LIBRARY', 'not from the environment')})"
