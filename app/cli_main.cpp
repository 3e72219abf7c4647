// gflowmix-cli: the headless front end for scripts and clusters (DESIGN §5).
#include "app/cli/cli.h"

#include "core/util/blas_threads.h"

#include <QCoreApplication>
#ifdef GFLOWMIX_WITH_GUI
#include <QApplication>
#endif
#include <QLoggingCategory>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

namespace {

constexpr const char* kUsage = R"(usage: gflowmix-cli COMMAND [ARGS]

  train CONFIG.json [--set KEY=VALUE]... [--out SESSION.gflowmix]
        [--device auto|cpu|cuda] [--threads N] [--resume] [--quiet]
  eval SESSION [--json]                    final metrics of every run and part
  sample SESSION [--run NAME] -n N [--seed S] [--out FILE.csv]
  target CONFIG.json [--set ...] [--out FILE.csv]     exact target distribution
  density SESSION [--run NAME] [--part I] [--step S] [--out FILE.csv]
  partition CONFIG.json [--set ...] [--out FILE.csv]  part of every cell, per run
  bench CONFIG.json [--set ...] [--steps N] [--threads N] [--run NAME] [--stacked]
                    [--device auto|cpu|cuda] [--json]
  export SESSION --figure NAME|all --out FILE.png|pdf|svg|csv (or FOLDER for all)

Exit status: 0 success, 1 failure at run time, 2 bad input.
)";

} // namespace

int main(int argc, char** argv)
{
  // Commands that train want OpenBLAS single-threaded from the start (one BLAS thread per
  // worker); the others need not pay for a re-execution.
  if (argc > 1 && (std::strcmp(argv[1], "train") == 0 || std::strcmp(argv[1], "bench") == 0)) {
    gfm::core::ensureSingleThreadedBlas(argv);
  }
  // export draws with the workbench's widgets (offscreen without a display); the rest is
  // headless.
#ifdef GFLOWMIX_WITH_GUI
  const bool drawing = argc > 1 && std::strcmp(argv[1], "export") == 0;
  if (drawing && qEnvironmentVariableIsEmpty("DISPLAY") &&
      qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) {
    qputenv("QT_QPA_PLATFORM", "offscreen");
  }
  std::unique_ptr<QCoreApplication> app = drawing ? std::make_unique<QApplication>(argc, argv)
                                                  : std::make_unique<QCoreApplication>(argc, argv);
#else
  auto app = std::make_unique<QCoreApplication>(argc, argv);
#endif
  QCoreApplication::setApplicationName(QStringLiteral("gflowmix-cli"));
  QCoreApplication::setApplicationVersion(QStringLiteral(GFLOWMIX_VERSION));

  // Session open/close notes are for the GUI's log view; the CLI says what matters itself.
  QLoggingCategory::setFilterRules(QStringLiteral("gfm.session.info=false"));

  QStringList args = QCoreApplication::arguments().mid(1);
  if (args.isEmpty() || args.front() == QLatin1String("--help") ||
      args.front() == QLatin1String("-h") || args.front() == QLatin1String("help")) {
    std::fputs(kUsage, args.isEmpty() ? stderr : stdout);
    return args.isEmpty() ? gfm::cli::kBadInput : gfm::cli::kOk;
  }
  if (args.front() == QLatin1String("--version")) {
    std::printf("gflowmix-cli %s\n", GFLOWMIX_VERSION);
    return gfm::cli::kOk;
  }

  const std::map<QString, std::function<int(const QStringList&)>> commands = {
    { QStringLiteral("train"), gfm::cli::trainCommand },
    { QStringLiteral("bench"), gfm::cli::benchCommand },
    { QStringLiteral("target"), gfm::cli::targetCommand },
    { QStringLiteral("partition"), gfm::cli::partitionCommand },
    { QStringLiteral("eval"), gfm::cli::evalCommand },
    { QStringLiteral("sample"), gfm::cli::sampleCommand },
    { QStringLiteral("density"), gfm::cli::densityCommand },
#ifdef GFLOWMIX_WITH_GUI
    { QStringLiteral("export"), gfm::cli::exportCommand },
#endif
  };
  const QString command = args.takeFirst();
  const auto it = commands.find(command);
  if (it == commands.end()) {
    std::fprintf(stderr, "gflowmix-cli: unknown command \"%s\"\n\n%s", qPrintable(command), kUsage);
    return gfm::cli::kBadInput;
  }
  return it->second(args);
}
