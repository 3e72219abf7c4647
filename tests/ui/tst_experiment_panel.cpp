#include "ui/experiment_panel.h"

#include <QComboBox>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QTest>

using gfm::ui::ExperimentPanel;

namespace {

const QString kDefaultConfig =
  QStringLiteral(GFLOWMIX_SOURCE_DIR "/resources/experiments/default.json");

void type(QLineEdit* edit, const QString& text)
{
  edit->selectAll();
  QTest::keyClick(edit, Qt::Key_Backspace);
  QTest::keyClicks(edit, text);
}

} // namespace

class TestExperimentPanel : public QObject
{
  Q_OBJECT

private slots:
  void emptyPanelMarksNothing();
  void loadsShippedConfig();
  void refusesInvalidValues_data();
  void refusesInvalidValues();
  void acceptsEditedValues();
  void buttonsFollowState();
  void sessionConfigNamesTheSession();
};

void TestExperimentPanel::emptyPanelMarksNothing()
{
  ExperimentPanel panel;
  QVERIFY(!panel.canStart());
  QVERIFY(!panel.isFieldInvalid(QStringLiteral("env.height")));
  QVERIFY(!panel.errorText().isEmpty());
}

void TestExperimentPanel::loadsShippedConfig()
{
  ExperimentPanel panel;
  QString error;
  QVERIFY2(panel.loadConfig(kDefaultConfig, &error), qPrintable(error));
  QCOMPARE(panel.field(QStringLiteral("env.height"))->text(), QStringLiteral("32"));
  QCOMPARE(panel.field(QStringLiteral("env.dim"))->text(), QStringLiteral("2"));
  QVERIFY(panel.canStart());
  QVERIFY(panel.errorText().isEmpty());
  QVERIFY(!panel.loadConfig(QStringLiteral("/nonexistent/config.json"), &error));
  QVERIFY(error.contains(QStringLiteral("/nonexistent/config.json")));
}

void TestExperimentPanel::refusesInvalidValues_data()
{
  QTest::addColumn<QString>("key");
  QTest::addColumn<QString>("value");
  QTest::newRow("height below 2") << "env.height"
                                  << "1";
  QTest::newRow("height not a number") << "env.height"
                                       << "abc";
  QTest::newRow("dimension zero") << "env.dim"
                                  << "0";
  QTest::newRow("fractional steps") << "training.steps"
                                    << "10.5";
  QTest::newRow("batch zero") << "training.batch"
                              << "0";
  QTest::newRow("negative learning rate") << "training.lr"
                                          << "-0.1";
  QTest::newRow("off-policy share above one") << "training.off_policy_ratio"
                                              << "1.5";
  QTest::newRow("evaluate every zero") << "eval.every"
                                       << "0";
}

void TestExperimentPanel::refusesInvalidValues()
{
  QFETCH(QString, key);
  QFETCH(QString, value);

  ExperimentPanel panel;
  QVERIFY(panel.loadConfig(kDefaultConfig));
  type(panel.field(key), value);

  QVERIFY2(panel.isFieldInvalid(key), qPrintable(panel.errorText()));
  QVERIFY2(panel.errorText().contains(key), qPrintable(panel.errorText()));
  QVERIFY(!panel.canStart());
  QVERIFY(!panel.validatedSpec());

  // Other fields stay clean, and a valid value lifts the refusal.
  QVERIFY(!panel.isFieldInvalid(key == QLatin1String("eval.every") ? QStringLiteral("env.dim")
                                                                   : QStringLiteral("eval.every")));
  type(panel.field(key),
       key == QLatin1String("training.lr")                 ? "0.01"
       : key == QLatin1String("training.off_policy_ratio") ? "0.5"
                                                           : "4");
  QVERIFY(!panel.isFieldInvalid(key));
  QVERIFY(panel.canStart());
}

void TestExperimentPanel::acceptsEditedValues()
{
  ExperimentPanel panel;
  QVERIFY(panel.loadConfig(kDefaultConfig));
  type(panel.field(QStringLiteral("env.height")), QStringLiteral("16"));
  type(panel.field(QStringLiteral("training.off_policy_ratio")), QStringLiteral("0.5"));
  type(panel.field(QStringLiteral("eval.every")), QStringLiteral("50"));

  const auto spec = panel.validatedSpec();
  QVERIFY(spec);
  QCOMPARE(spec->grid.height, 16);
  QCOMPARE(spec->eval.every, 50);
  QCOMPARE(spec->training.offPolicyRatio, 0.5);
}

void TestExperimentPanel::buttonsFollowState()
{
  ExperimentPanel panel;
  QVERIFY(panel.loadConfig(kDefaultConfig));
  panel.setState(ExperimentPanel::State::Running);
  QVERIFY(!panel.canStart());
  QVERIFY(panel.field(QStringLiteral("env.height"))->isReadOnly());
  panel.setState(ExperimentPanel::State::Idle);
  QVERIFY(panel.canStart());
  QVERIFY(!panel.field(QStringLiteral("env.height"))->isReadOnly());
}

void TestExperimentPanel::sessionConfigNamesTheSession()
{
  QFile file(kDefaultConfig);
  QVERIFY(file.open(QIODevice::ReadOnly));
  QJsonObject config = QJsonDocument::fromJson(file.readAll()).object();
  config.insert(QStringLiteral("name"), QStringLiteral("from-a-session"));

  ExperimentPanel panel;
  auto* picker = panel.findChild<QComboBox*>();
  QVERIFY(picker);
  const int shipped = picker->count();
  panel.setConfig(config, QStringLiteral("/tmp/runs/hard.gflowmix"));
  QCOMPARE(picker->count(), shipped + 1);
  QCOMPARE(picker->currentText(), QStringLiteral("hard (session)"));
  QCOMPARE(panel.field(QStringLiteral("env.height"))->text(), QStringLiteral("32"));

  // Another config, then the session's entry again: its config comes back, not a read error.
  const int session = picker->currentIndex();
  QVERIFY(panel.loadConfig(
    QStringLiteral(GFLOWMIX_SOURCE_DIR "/resources/experiments/hypergrid-3d-8-easy.json")));
  QCOMPARE(panel.field(QStringLiteral("env.height"))->text(), QStringLiteral("8"));
  picker->setCurrentIndex(session);
  emit picker->activated(session);
  QCOMPARE(panel.field(QStringLiteral("env.height"))->text(), QStringLiteral("32"));
  QCOMPARE(panel.field(QStringLiteral("env.dim"))->text(), QStringLiteral("2"));
  QVERIFY2(panel.errorText().isEmpty(), qPrintable(panel.errorText()));

  panel.setConfig(config, QStringLiteral("/tmp/runs/hard.gflowmix"));
  QCOMPARE(picker->count(), shipped + 2);
}

QTEST_MAIN(TestExperimentPanel)
#include "tst_experiment_panel.moc"
