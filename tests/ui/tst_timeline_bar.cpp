// The replay timeline: scrubbing, following a growing session, playback.
#include "ui/timeline_bar.h"

#include <QSignalSpy>
#include <QTest>

using gfm::ui::TimelineBar;

class TestTimelineBar : public QObject
{
  Q_OBJECT

private slots:
  void startsAtTheNewestStep()
  {
    TimelineBar bar;
    QVERIFY(!bar.isEnabled());
    QCOMPARE(bar.currentStep(), std::int64_t(-1));
    bar.setSteps({ 0, 100, 200 });
    QVERIFY(bar.isEnabled());
    QCOMPARE(bar.currentStep(), std::int64_t(200));
    QVERIFY(bar.atEnd());
  }

  void scrubbingEmitsTheStep()
  {
    TimelineBar bar;
    bar.setSteps({ 0, 100, 200 });
    QSignalSpy chosen(&bar, &TimelineBar::stepChosen);
    bar.setStep(100);
    QCOMPARE(chosen.size(), 1);
    QCOMPARE(chosen.first().first().value<std::int64_t>(), std::int64_t(100));
    QVERIFY(!bar.atEnd());
    bar.setStep(150); // between evaluations: the next one
    QCOMPARE(bar.currentStep(), std::int64_t(200));
  }

  void followsOnlyWhenAtTheEnd()
  {
    TimelineBar bar;
    bar.setSteps({ 0, 100 });
    bar.setSteps({ 0, 100, 200 });
    QCOMPARE(bar.currentStep(), std::int64_t(200)); // carried along

    bar.setStep(100);
    bar.setSteps({ 0, 100, 200, 300 });
    QCOMPARE(bar.currentStep(), std::int64_t(100)); // stays where the user left it
  }

  void playsToTheEndAndStops()
  {
    TimelineBar bar;
    bar.setSteps({ 0, 10, 20 });
    QSignalSpy chosen(&bar, &TimelineBar::stepChosen);
    bar.play(); // at the end: replays from the start
    QVERIFY(bar.isPlaying());
    QTRY_VERIFY_WITH_TIMEOUT(!bar.isPlaying(), 5000);
    QCOMPARE(bar.currentStep(), std::int64_t(20));
    QList<std::int64_t> steps;
    for (const QList<QVariant>& args : chosen) {
      steps << args.first().value<std::int64_t>();
    }
    QCOMPARE(steps, (QList<std::int64_t>{ 0, 10, 20 }));
  }
};

QTEST_MAIN(TestTimelineBar)
#include "tst_timeline_bar.moc"
