// gflowmix-cli export: a session's figures through the workbench's own views, offscreen.
#include "app/cli/cli.h"

#include "ui/main_window.h"

#include <QApplication>
#include <QFileInfo>

#include <cstdio>

namespace gfm::cli {

int exportCommand(const QStringList& list)
{
  QString error;
  const auto args = Arguments::parse(
    list, { QStringLiteral("figure"), QStringLiteral("out") }, { QStringLiteral("csv") }, &error);
  if (!args) {
    return fail(kBadInput, QStringLiteral("export: ") + error);
  }
  if (args->positional().size() != 1 || !args->has(QStringLiteral("out"))) {
    return fail(kBadInput,
                QStringLiteral("export: expected SESSION --figure NAME --out FILE "
                               "(or --figure all --out FOLDER)"));
  }
  const QString session = args->positional().front();
  if (!QFileInfo::exists(session)) {
    return fail(kBadInput, QStringLiteral("export: %1: no such file").arg(session));
  }

  ui::MainWindow window;
  window.resize(1600, 1000);
  if (!window.openFile(session, &error)) {
    return fail(kBadInput, QStringLiteral("export: ") + error);
  }
  QApplication::processEvents(); // let the views draw the loaded snapshots

  const QString figure = args->value(QStringLiteral("figure"), QStringLiteral("all"));
  QString out = args->value(QStringLiteral("out"));
  if (figure == QLatin1String("all")) {
    if (!window.exportFigures(out, &error)) {
      return fail(kFailure, QStringLiteral("export: ") + error);
    }
    std::fprintf(stderr,
                 "figures %s written to %s\n",
                 qPrintable(window.figureNames().join(QStringLiteral(", "))),
                 qPrintable(out));
    return kOk;
  }
  if (!window.figureNames().contains(figure)) {
    return fail(kBadInput,
                QStringLiteral("export: --figure \"%1\" is not one of all, %2")
                  .arg(figure, window.figureNames().join(QStringLiteral(", "))));
  }
  if (args->has(QStringLiteral("csv")) && !out.endsWith(QLatin1String(".csv"))) {
    out = QFileInfo(out).path() + QLatin1Char('/') + QFileInfo(out).completeBaseName() +
          QStringLiteral(".csv");
  }
  const QString suffix = QFileInfo(out).suffix().toLower();
  if (!QStringList{ "png", "pdf", "svg", "csv" }.contains(suffix)) {
    return fail(
      kBadInput,
      QStringLiteral("export: --out must end in .png, .pdf, .svg or .csv, got %1").arg(out));
  }
  if (!window.exportFigure(figure, out, &error)) {
    return fail(kFailure, QStringLiteral("export: ") + error);
  }
  return kOk;
}

} // namespace gfm::cli
