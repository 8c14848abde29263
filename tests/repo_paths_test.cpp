// Every reference in the repository points inside it: a user who clones it gets every file a README links, every
// document a comment or a --help text names. Scans the files git tracks (the working tree when git is absent) for
// links and paths that leave the repository or name a document it does not have.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::vector<std::string> tracked_files(const fs::path& root) {
  std::vector<std::string> files;
  if (FILE* git = popen("git ls-files 2>/dev/null", "r")) {
    char line[4096];
    while (fgets(line, sizeof line, git) != nullptr) {
      std::string name(line);
      if (!name.empty() && name.back() == '\n') name.pop_back();
      files.push_back(name);
    }
    pclose(git);
  }
  if (!files.empty()) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string relative = fs::relative(entry.path(), root).string();
    if (!entry.is_regular_file() || relative.starts_with(".git/") || relative.starts_with("build") ||
        relative.starts_with("bin")) {
      continue;
    }
    files.push_back(relative);
  }
  return files;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The path a reference names, taken from the referring file's folder (or the repository root, for names like
// docs/PROTOCOL.md written from anywhere), if it exists inside the repository.
bool resolves_inside(const fs::path& root, const fs::path& folder, const std::string& target) {
  for (const fs::path& base : {root / folder, root}) {
    const fs::path full = (base / target).lexically_normal();
    const std::string relative = full.lexically_relative(root).string();
    if (relative.empty() || relative.starts_with("..")) continue;
    if (fs::exists(full)) return true;
  }
  return false;
}

struct Problem {
  std::string file;
  int line;
  std::string what;
};

std::vector<Problem> scan(const fs::path& root) {
  // Built from pieces, so that these names appear nowhere whole.
  const std::string shared_folder = std::string("..") + "/shared";
  const std::string machine_root = std::string("/") + "work/";
  const std::regex markdown_link(R"(\]\(([^)\s]+)\))");
  // A document is named in capitals (README.md, docs/PROTOCOL.md); lower-case names such as report.md are files a
  // program writes, not references.
  const std::regex document_name(R"((^|[^A-Za-z0-9_./-])((\.\./|\./)?([A-Za-z0-9_.-]+/)*[A-Z][A-Z0-9_-]*\.md)\b)");
  const std::regex parent_path(R"((^|[^A-Za-z0-9_.])((\.\./)+[A-Za-z0-9_.-][A-Za-z0-9_./-]*))");
  std::vector<Problem> problems;
  for (const std::string& name : tracked_files(root)) {
    if (name == "tests/repo_paths_test.cpp") continue;  // its checker test plants escapes on purpose
    const std::string text = read_text(root / name);
    if (text.find('\0') != std::string::npos) continue;  // not text
    const fs::path folder = fs::path(name).parent_path();
    std::istringstream lines(text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      const auto report = [&](const std::string& what) { problems.push_back({name, number, what}); };
      if (line.find(shared_folder) != std::string::npos) report("names the specs folder outside the repository");
      if (line.find(machine_root) != std::string::npos) report("names an absolute path of the development machine");
      const bool markdown = name.ends_with(".md");
      for (std::sregex_iterator it(line.begin(), line.end(), markdown_link), end; markdown && it != end; ++it) {
        std::string target = (*it)[1].str();
        if (target.find("://") != std::string::npos || target.starts_with("mailto:") || target.starts_with("#")) {
          continue;
        }
        target = target.substr(0, target.find('#'));
        if (!resolves_inside(root, folder, target))
          report("link to '" + target + "' leaves the repository or is missing");
      }
      for (std::sregex_iterator it(line.begin(), line.end(), document_name), end; it != end; ++it) {
        const std::string target = (*it)[2].str();
        if (!resolves_inside(root, folder, target))
          report("names '" + target + "', which the repository does not have");
      }
      for (std::sregex_iterator it(line.begin(), line.end(), parent_path), end; it != end; ++it) {
        const std::string target = (*it)[2].str();
        const fs::path full = (root / folder / target).lexically_normal();
        if (full.lexically_relative(root).string().starts_with(".."))
          report("path '" + target + "' leaves the repository");
      }
    }
  }
  return problems;
}

TEST(RepositoryPaths, EveryReferencePointsInsideTheRepository) {
  const fs::path root = fs::current_path();
  ASSERT_TRUE(fs::exists(root / "models.txt") && fs::exists(root / "Makefile"))
      << "run the tests from the repository root (make test does)";
  const std::vector<Problem> problems = scan(root);
  for (const Problem& problem : problems) ADD_FAILURE() << problem.file << ":" << problem.line << ": " << problem.what;
  EXPECT_TRUE(problems.empty());
}

// The checker itself: a planted link out of the repository, a missing document and a parent path are all caught.
TEST(RepositoryPaths, TheCheckerCatchesEachKindOfEscape) {
  const fs::path root = fs::temp_directory_path() / ("iomodels_paths_" + std::to_string(::getpid()));
  fs::create_directories(root / "docs");
  std::ofstream(root / "docs" / "GOOD.md") << "fine\n";
  std::ofstream(root / "README.md") << "[ok](docs/GOOD.md) and [bad]("
                                    << ".."
                                    << "/elsewhere/X.md)\n"
                                    << "see MISSING.md and docs/GOOD.md\n"
                                    << "open(\"../../etc/thing\")\n";
  const fs::path before = fs::current_path();
  fs::current_path(root);  // no git repository here: the checker walks the tree
  const std::vector<Problem> problems = scan(root);
  fs::current_path(before);
  fs::remove_all(root);
  std::string all;
  for (const Problem& problem : problems)
    all += problem.file + ":" + std::to_string(problem.line) + ": " + problem.what + "\n";
  EXPECT_NE(all.find("README.md:1: link to '../elsewhere/X.md'"), std::string::npos) << all;
  EXPECT_NE(all.find("README.md:2: names 'MISSING.md'"), std::string::npos) << all;
  EXPECT_NE(all.find("README.md:3: path '../../etc/thing' leaves"), std::string::npos) << all;
  EXPECT_EQ(all.find("GOOD.md'"), std::string::npos) << all;
}

}  // namespace
