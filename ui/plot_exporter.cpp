#include "ui/plot_exporter.h"

#include "ui/logging.h"
#include "ui/plot_style.h"

#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTextStream>

#include <qcustomplot.h>

namespace gfm::ui {
namespace {

QString csvField(QString text)
{
  if (text.contains(QLatin1Char(',')) || text.contains(QLatin1Char('"'))) {
    text.replace(QLatin1String("\""), QLatin1String("\"\""));
    return QLatin1Char('"') + text + QLatin1Char('"');
  }
  return text;
}

QString number(double value)
{
  return QString::number(value, 'g', 10);
}

bool exportSvg(QCustomPlot* plot, const QString& path, QSize size)
{
  QSvgGenerator generator;
  generator.setFileName(path);
  generator.setSize(size);
  generator.setViewBox(QRect(QPoint(0, 0), size));
  generator.setTitle(plot->objectName());
  generator.setDescription(QStringLiteral("gflowmix figure"));

  QCPPainter painter;
  if (!painter.begin(&generator)) {
    return false;
  }
  plot->toPainter(&painter, size.width(), size.height());
  return painter.end();
}

} // namespace

void PlotExporter::applyPublicationStyle(QCustomPlot* plot)
{
  plot->setBackground(Qt::white);
  plot->setAntialiasedElements(QCP::aeAll);

  QFont labelFont(QStringLiteral("DejaVu Sans"), 11);
  QFont tickFont(QStringLiteral("DejaVu Sans"), 10);
  for (QCPAxisRect* rect : plot->axisRects()) {
    rect->setBackground(Qt::white);
    for (QCPAxis* axis : rect->axes()) {
      axis->setLabelFont(labelFont);
      axis->setTickLabelFont(tickFont);
      axis->setLabelColor(Qt::black);
      axis->setTickLabelColor(Qt::black);
      axis->setBasePen(axis->property(kNoBaseLine).toBool() ? QPen(Qt::NoPen) : QPen(Qt::black, 1));
      axis->setTickPen(QPen(Qt::black, 1));
      axis->setSubTickPen(QPen(Qt::black, 1));
    }
  }
  for (int i = 0; i < plot->plotLayout()->elementCount(); ++i) {
    if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i))) {
      title->setFont(QFont(QStringLiteral("DejaVu Sans"), 12, QFont::Bold));
      title->setTextColor(Qt::black);
    }
  }
  if (plot->legend) {
    plot->legend->setFont(tickFont);
  }
}

QSize PlotExporter::figureSize(const QCustomPlot* plot)
{
  const QSize size = plot->property(kFigureSizeProperty).toSize();
  return size.isValid() ? size : kFigureSize;
}

bool PlotExporter::exportPlot(QCustomPlot* plot, const QString& path, QSize size, QString* error)
{
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix != QLatin1String("png") && suffix != QLatin1String("pdf") &&
      suffix != QLatin1String("svg")) {
    if (error) {
      *error = QStringLiteral("%1: unknown figure format (use .png, .pdf or .svg)").arg(path);
    }
    return false;
  }

  // Restyle, draw off-screen at the fixed size, then give the plot back its screen look.
  // Fonts and pens are the only state touched, so the screen style restores it exactly.
  applyPublicationStyle(plot);
  // A first, discarded rendering at the export size lets ranges that follow the layout (the
  // density maps keep square cells) settle before the ticks of the real one are computed.
  plot->toPixmap(size.width(), size.height(), 1.0);
  bool ok = false;
  if (suffix == QLatin1String("png")) {
    ok = plot->savePng(path, size.width(), size.height(), 1.0);
  } else if (suffix == QLatin1String("pdf")) {
    ok = plot->savePdf(path,
                       size.width(),
                       size.height(),
                       QCP::epNoCosmetic,
                       QStringLiteral("gflowmix"),
                       plot->objectName());
  } else {
    ok = exportSvg(plot, path, size);
  }
  applyScreenStyle(plot);
  plot->replot(QCustomPlot::rpQueuedReplot);

  if (!ok) {
    qCWarning(lcUi) << "export failed:" << path;
    if (error) {
      *error = QStringLiteral("%1: could not write the figure").arg(path);
    }
  }
  return ok;
}

QString PlotExporter::plotCsv(QCustomPlot* plot)
{
  QString text;
  QTextStream out(&text);
  out << "series,x,y,z\n";
  for (int i = 0; i < plot->plottableCount(); ++i) {
    QCPAbstractPlottable* plottable = plot->plottable(i);
    const QString name = csvField(plottable->name());
    if (auto* graph = qobject_cast<QCPGraph*>(plottable)) {
      for (const QCPGraphData& point : *graph->data()) {
        out << name << ',' << number(point.key) << ',' << number(point.value) << ",\n";
      }
    } else if (auto* bars = qobject_cast<QCPBars*>(plottable)) {
      for (const QCPBarsData& bar : *bars->data()) {
        out << name << ',' << number(bar.key) << ',' << number(bar.value) << ",\n";
      }
    } else if (auto* curve = qobject_cast<QCPCurve*>(plottable)) {
      for (const QCPCurveData& point : *curve->data()) {
        out << name << ',' << number(point.key) << ',' << number(point.value) << ",\n";
      }
    } else if (auto* map = qobject_cast<QCPColorMap*>(plottable)) {
      QCPColorMapData* data = map->data();
      for (int x = 0; x < data->keySize(); ++x) {
        for (int y = 0; y < data->valueSize(); ++y) {
          double key = 0.0;
          double value = 0.0;
          data->cellToCoord(x, y, &key, &value);
          out << name << ',' << number(key) << ',' << number(value) << ','
              << number(data->cell(x, y)) << '\n';
        }
      }
    }
  }
  return text;
}

bool PlotExporter::writeText(const QString& path, const QString& text, QString* error)
{
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) {
    if (error) {
      *error = QStringLiteral("%1: %2").arg(path, file.errorString());
    }
    return false;
  }
  file.write(text.toUtf8());
  if (!file.commit()) {
    if (error) {
      *error = QStringLiteral("%1: %2").arg(path, file.errorString());
    }
    return false;
  }
  return true;
}

} // namespace gfm::ui
