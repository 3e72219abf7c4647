#pragma once

#include <QTimer>
#include <QWidget>

#include <cstdint>
#include <vector>

class QLabel;
class QSlider;
class QToolButton;

namespace gfm::ui {

/**
 * @brief The replay timeline of a session: a slider over its evaluation steps, play/pause, and
 * "live" (stay on the newest step while the session is still being written).
 */
class TimelineBar : public QWidget
{
  Q_OBJECT

public:
  /** @brief Milliseconds between frames while playing. */
  static constexpr int kFrameIntervalMs = 250;

  explicit TimelineBar(QWidget* parent = nullptr);

  /**
   * @brief The steps to scrub over, ascending. Keeps the position when it is still a step,
   * and moves to the newest step when the bar is at the end (following).
   */
  void setSteps(const std::vector<std::int64_t>& steps);

  /** @brief The step the slider is on (-1 without steps). */
  std::int64_t currentStep() const;

  /** @brief Whether the bar is on the newest step, so that new steps carry it along. */
  bool atEnd() const;

  bool isPlaying() const { return m_playTimer.isActive(); }

public slots:
  void setStep(std::int64_t step);
  void play();
  void pause();

signals:
  /** The user (or playback) moved to another step. */
  void stepChosen(std::int64_t step);

private:
  void showPosition(int index);
  void advance();

  std::vector<std::int64_t> m_steps;
  QSlider* m_slider = nullptr;
  QToolButton* m_playButton = nullptr;
  QToolButton* m_endButton = nullptr;
  QLabel* m_label = nullptr;
  QTimer m_playTimer;
};

} // namespace gfm::ui
