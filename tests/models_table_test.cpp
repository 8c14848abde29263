// The model list (models.txt) as the build compiled it in: its parser, and the table itself kept consistent with
// the repository (every server's main source exists, every shape runs a server).
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "harness/models.hpp"

namespace iomodels {
namespace {

TEST(ModelTable, ParsesEveryColumnAndSkipsComments) {
  const auto rows = parse_model_table(
      "# a comment\n"
      "\n"
      "pool   server  blocking/pool.cpp  required  threads:5  yes  rt,uv  -\n"
      "pool-x shape   pool               required  -          no   -      --edge,--threads,2\n"
      "py     python  python/echo.py     rejected  1          no   -      -\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].name, "pool");
  EXPECT_EQ(rows[0].kind, ModelKind::kServer);
  EXPECT_EQ(rows[0].binary(), "pool");
  EXPECT_EQ(rows[0].threads, ThreadsFlag::kRequired);
  EXPECT_EQ(rows[0].limit, 5);
  EXPECT_TRUE(rows[0].limit_is_threads);
  EXPECT_TRUE(rows[0].forks);
  EXPECT_EQ(rows[0].libs, (std::vector<std::string>{"rt", "uv"}));
  EXPECT_EQ(rows[1].binary(), "pool");
  EXPECT_EQ(rows[1].args, (std::vector<std::string>{"--edge", "--threads", "2"}));
  EXPECT_EQ(rows[1].limit, 0);
  EXPECT_EQ(rows[2].kind, ModelKind::kPython);
  EXPECT_EQ(rows[2].runs, "python/echo.py");
  EXPECT_EQ(rows[2].limit, 1);
  EXPECT_FALSE(rows[2].limit_is_threads);
}

TEST(ModelTable, AMalformedRowNamesItsLine) {
  const auto error_of = [](const char* text) {
    try {
      parse_model_table(text);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("\nx server a.cpp rejected - no -\n").find("models.txt:2: expected 8 columns"), std::string::npos);
  EXPECT_NE(error_of("x server a.cpp sometimes - no - -\n").find("'sometimes'"), std::string::npos);
  EXPECT_NE(error_of("x server a.cpp rejected lots no - -\n").find("limit 'lots'"), std::string::npos);
  EXPECT_NE(error_of("x shape nothing rejected - no - -\n").find("no server row"), std::string::npos);
}

TEST(ModelTable, TheCompiledTableMatchesTheRepository) {
  ASSERT_FALSE(model_table().empty());
  for (const ModelRow& row : model_table()) {
    if (row.kind == ModelKind::kShape) continue;  // parse_model_table checked that it runs a server row
    EXPECT_TRUE(std::filesystem::exists(row.runs)) << row.name << ": " << row.runs << " does not exist";
  }
  EXPECT_EQ(model_names(ModelKind::kServer).front(), "blocking");
}

}  // namespace
}  // namespace iomodels
