// Command-line flags and small helpers shared by bench-grpc-server and bench-grpc-client.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace bench {

// Prints a message naming the program and exits with status 2 (usage) or 1 (runtime).
[[noreturn]] inline void Fail(const std::string& program, const std::string& message,
                              int status = 1) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), message.c_str());
    std::exit(status);
}

// `--name value` pairs. Every flag takes a value; unknown flags are a usage error, so
// that a typo in the harness does not silently run the wrong benchmark.
class Flags {
  public:
    Flags(std::string program, int argc, char** argv,
          std::map<std::string, std::string> defaults)
        : program_(std::move(program)), values_(std::move(defaults)) {
        for (int i = 1; i < argc; i++) {
            std::string arg = argv[i];
            if (arg.rfind("--", 0) != 0 || i + 1 >= argc) {
                Fail(program_, "expected --flag value, got '" + arg + "'", 2);
            }
            std::string name = arg.substr(2);
            if (values_.find(name) == values_.end()) {
                Fail(program_, "unknown flag --" + name, 2);
            }
            values_[name] = argv[++i];
        }
    }

    std::string String(const std::string& name) const {
        const std::string& value = values_.at(name);
        if (value.empty()) Fail(program_, "missing --" + name, 2);
        return value;
    }

    long Int(const std::string& name) const {
        std::string value = String(name);
        char* end = nullptr;
        long parsed = std::strtol(value.c_str(), &end, 10);
        if (*end != '\0' || parsed < 0) {
            Fail(program_, "--" + name + " wants a non-negative integer, got '" + value + "'",
                 2);
        }
        return parsed;
    }

    double Double(const std::string& name) const {
        std::string value = String(name);
        char* end = nullptr;
        double parsed = std::strtod(value.c_str(), &end);
        if (*end != '\0' || parsed < 0) {
            Fail(program_, "--" + name + " wants a non-negative number, got '" + value + "'",
                 2);
        }
        return parsed;
    }

    std::string ReadFile(const std::string& name) const {
        std::string path = String(name);
        std::ifstream in(path, std::ios::binary);
        if (!in) Fail(program_, "cannot read --" + name + " " + path);
        std::stringstream contents;
        contents << in.rdbuf();
        return contents.str();
    }

  private:
    std::string program_;
    std::map<std::string, std::string> values_;
};

}  // namespace bench
