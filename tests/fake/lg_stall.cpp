// Fake server for the load generator's tests (see lg_fake_server.hpp): stops answering every connection once it has
// echoed --after bytes.
#include "tests/fake/lg_fake_server.hpp"

int main(int argc, char** argv) { return lg_fake::run(argc, argv, lg_fake::Fault::kStall); }
