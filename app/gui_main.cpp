// The `gflowmix` workbench: a window that trains a mixture of GFlowNets and shows it learning.

#include "core/util/blas_threads.h"
#include "ui/experiment_panel.h"
#include "ui/latency_probe.h"
#include "ui/log_view.h"
#include "ui/logging.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QIcon>
#include <QTimer>

namespace {

QtMessageHandler previousHandler = nullptr;

/** Copies every message (any category, any thread) to the log view, then to stderr. */
void forwardMessage(QtMsgType type, const QMessageLogContext& context, const QString& message)
{
  const QString category =
    context.category ? QString::fromLatin1(context.category) : QStringLiteral("default");
  gfm::ui::LogBus::instance()->post(type, category, message);
  if (previousHandler) {
    previousHandler(type, context, message);
  }
}

QString defaultConfig()
{
  for (const QString& dir : gfm::ui::ExperimentPanel::configDirectories()) {
    const QString path = QDir(dir).filePath(QStringLiteral("default.json"));
    if (QFileInfo::exists(path)) {
      return path;
    }
  }
  return QString();
}

} // namespace

int main(int argc, char** argv)
{
  gfm::core::ensureSingleThreadedBlas(argv); // one BLAS thread per training worker
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("gflowmix"));
  QApplication::setApplicationName(QStringLiteral("gflowmix"));
  QApplication::setApplicationVersion(QStringLiteral(GFLOWMIX_VERSION));
  QApplication::setDesktopFileName(QStringLiteral("io.github.gflowmix.Gflowmix"));
  QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/io.github.gflowmix.Gflowmix.svg")));

  // Created here, on the GUI thread, so that posts from workers are queued to it.
  gfm::ui::LogBus::instance();
  previousHandler = qInstallMessageHandler(forwardMessage);

  QCommandLineParser parser;
  parser.setApplicationDescription(
    QStringLiteral("Train a mixture of GFlowNets and watch it learn."));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("file"),
                               QStringLiteral("An experiment config (.json) or a session "
                                              "(.gflowmix)."),
                               QStringLiteral("[CONFIG.json | SESSION.gflowmix]"));
  const QCommandLineOption startOption(QStringLiteral("start"),
                                       QStringLiteral("Start training the config at once."));
  QCommandLineOption quitAfterOption(QStringLiteral("quit-after"),
                                     QStringLiteral("Close the window after SECONDS."),
                                     QStringLiteral("SECONDS"));
  quitAfterOption.setFlags(QCommandLineOption::HiddenFromHelp);
  const QCommandLineOption figuresOption(
    QStringLiteral("export-figures"),
    QStringLiteral("Write the paper figures to DIR and quit (with --start: when training ends)."),
    QStringLiteral("DIR"));
  const QCommandLineOption outOption(QStringLiteral("out"),
                                     QStringLiteral("Record the training into this session."),
                                     QStringLiteral("SESSION.gflowmix"));
  parser.addOption(startOption);
  parser.addOption(outOption);
  parser.addOption(figuresOption);
  parser.addOption(quitAfterOption);
  parser.process(app);

  // GFLOWMIX_LATENCY_PROBE=1 measures how late a 10 ms GUI timer fires; reported at exit.
  gfm::ui::LatencyProbe probe(10);
  if (qEnvironmentVariableIntValue("GFLOWMIX_LATENCY_PROBE") == 1) {
    probe.start();
    QObject::connect(&app, &QCoreApplication::aboutToQuit, &probe, [&probe] {
      if (probe.isActive()) {
        probe.stop();
        qCInfo(gfm::ui::lcUi).noquote() << probe.report();
      }
    });
  }

  gfm::ui::MainWindow window;
  window.show();

  if (parser.isSet(outOption)) {
    window.panel()->setSessionPath(parser.value(outOption));
  }

  const QStringList files = parser.positionalArguments();
  const QString file = files.isEmpty() ? defaultConfig() : files.first();
  if (!file.isEmpty()) {
    QString error;
    if (!window.openFile(file, &error)) {
      qCWarning(gfm::ui::lcUi).noquote() << error;
    } else if (parser.isSet(startOption)) {
      QTimer::singleShot(0, &window, [&window] { window.startExperiment(); });
    }
  }

  if (parser.isSet(figuresOption)) {
    // After training with --start; at once for a session or a config that is not started.
    const QString folder = parser.value(figuresOption);
    const auto exportAndClose = [&window, folder] {
      QString error;
      if (!window.exportFigures(folder, &error)) {
        qCWarning(gfm::ui::lcUi).noquote() << error;
      }
      window.close();
    };
    if (window.experiment() || parser.isSet(startOption)) {
      QObject::connect(&window, &gfm::ui::MainWindow::experimentEnded, &window, exportAndClose);
    } else {
      QTimer::singleShot(0, &window, exportAndClose);
    }
  }

  if (parser.isSet(quitAfterOption)) {
    const int seconds = parser.value(quitAfterOption).toInt();
    QTimer::singleShot(seconds * 1000, &window, [&window, &probe] {
      // Reported before closing: stopping the workers is not part of the measurement.
      if (probe.isActive()) {
        probe.stop();
        qCInfo(gfm::ui::lcUi).noquote() << probe.report();
      }
      window.close();
    });
  }
  return app.exec();
}
