from . import test_hierarchy
from . import test_tag
from . import test_tag_import
from . import test_collector_config
from . import test_access
from . import test_xmlrpc
from . import test_historian
from . import test_click_everywhere
