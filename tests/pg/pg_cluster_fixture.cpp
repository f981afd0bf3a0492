// The ctest fixture's cluster (tests/CMakeLists.txt, lumbung_pg_tests()):
//   pg_cluster_fixture start FOLDER   creates and starts a cluster in FOLDER
//                                     (removing one a killed run left there)
//                                     and prints its URL
//   pg_cluster_fixture stop FOLDER    stops it and removes FOLDER
#include <exception>
#include <iostream>
#include <string>

#include "support/pg_cluster.hpp"

int main(int argc, char** argv) {
  const std::string command = argc == 3 ? argv[1] : "";
  if (command != "start" && command != "stop") {
    std::cerr << "usage: pg_cluster_fixture start|stop FOLDER\n";
    return 2;
  }
  try {
    if (command == "start") {
      lumbung::test::PgCluster cluster(argv[2]);
      cluster.release();
      std::cout << cluster.url() << "\n";
    } else {
      lumbung::test::PgCluster::remove(argv[2]);
    }
  } catch (const std::exception& e) {
    std::cerr << "pg_cluster_fixture " << command << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
