# Tests of kn_node: the typed settings built from the option table.
kn_add_test(node_tests node/options_test.cpp node/node_id_test.cpp)
target_link_libraries(node_tests PRIVATE kn_node)
