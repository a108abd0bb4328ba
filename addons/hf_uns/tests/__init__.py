from . import test_access, test_collector_config, test_hierarchy, test_historian, test_tag, test_tag_import, test_xmlrpc
