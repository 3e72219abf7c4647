#include "ui/plot_exporter.h"

#include "fixtures.h"
#include "ui/curves_view.h"
#include "ui/density_view.h"
#include "ui/snapshot_store.h"

#include <QFile>
#include <QImage>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

using gfm::ui::CurvesView;
using gfm::ui::DensityView;
using gfm::ui::PlotExporter;
using gfm::ui::SnapshotStore;
namespace fx = gfm::ui::fixtures;

class TestPlotExporter : public QObject
{
  Q_OBJECT

private slots:
  void init();
  void writesFigures_data();
  void writesFigures();
  void refusesUnknownFormat();
  void writesCsv();

private:
  SnapshotStore m_store;
};

void TestPlotExporter::init()
{
  const auto description = fx::description();
  m_store.reset(description);
  m_store.addSnapshot(fx::snapshot(description, 1, 100, 0.6));
  m_store.addSnapshot(fx::snapshot(description, 1, 200, 0.4));
}

void TestPlotExporter::writesFigures_data()
{
  QTest::addColumn<QString>("suffix");
  QTest::addColumn<bool>("density");
  QTest::newRow("densities png") << "png" << true;
  QTest::newRow("densities pdf") << "pdf" << true;
  QTest::newRow("densities svg") << "svg" << true;
  QTest::newRow("l1 png") << "png" << false;
  QTest::newRow("l1 svg") << "svg" << false;
}

void TestPlotExporter::writesFigures()
{
  QFETCH(QString, suffix);
  QFETCH(bool, density);

  DensityView densityView(&m_store);
  CurvesView curvesView(&m_store);
  densityView.setRun(1);
  m_store.flush();
  QCustomPlot* plot = density ? densityView.plot() : curvesView.l1Plot();

  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  const QString path = dir.filePath(QStringLiteral("figure.") + suffix);
  const QSize size(640, 400);
  QString error;
  QVERIFY2(PlotExporter::exportPlot(plot, path, size, &error), qPrintable(error));

  QFile file(path);
  QVERIFY(file.open(QIODevice::ReadOnly));
  const QByteArray bytes = file.readAll();
  QVERIFY(bytes.size() > 1000);
  if (suffix == QLatin1String("png")) {
    const QImage image(path);
    QCOMPARE(image.size(), size);
    // Not blank: the heat maps and curves put many colours on the page.
    QSet<QRgb> colours;
    for (int y = 0; y < image.height(); y += 7) {
      for (int x = 0; x < image.width(); x += 7) {
        colours.insert(image.pixel(x, y));
      }
    }
    QVERIFY(colours.size() > 8);
  } else if (suffix == QLatin1String("pdf")) {
    QVERIFY(bytes.startsWith("%PDF"));
  } else {
    QSvgRenderer renderer(path);
    QVERIFY(renderer.isValid());
    QCOMPARE(renderer.viewBox().size(), size);
  }
}

void TestPlotExporter::refusesUnknownFormat()
{
  DensityView view(&m_store);
  QTemporaryDir dir;
  QString error;
  QVERIFY(!PlotExporter::exportPlot(
    view.plot(), dir.filePath(QStringLiteral("f.bmpx")), PlotExporter::kFigureSize, &error));
  QVERIFY(error.contains(QStringLiteral("format")));
}

void TestPlotExporter::writesCsv()
{
  CurvesView view(&m_store);
  m_store.flush();
  const QString csv = PlotExporter::plotCsv(view.l1Plot());
  const QStringList lines = csv.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  QCOMPARE(lines.first(), QStringLiteral("series,x,y,z"));
  QVERIFY(lines.contains(QStringLiteral("perfect,200,0.4,")));

  QTemporaryDir dir;
  const QString path = dir.filePath(QStringLiteral("l1.csv"));
  QVERIFY(PlotExporter::writeText(path, csv));
  QFile file(path);
  QVERIFY(file.open(QIODevice::ReadOnly));
  QCOMPARE(QString::fromUtf8(file.readAll()), csv);
}

QTEST_MAIN(TestPlotExporter)
#include "tst_plot_exporter.moc"
