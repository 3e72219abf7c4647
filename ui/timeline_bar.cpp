#include "ui/timeline_bar.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QStyle>
#include <QToolButton>

#include <algorithm>

namespace gfm::ui {

TimelineBar::TimelineBar(QWidget* parent)
  : QWidget(parent)
{
  m_playButton = new QToolButton(this);
  m_playButton->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
  m_playButton->setToolTip(tr("Play the session from the current step"));
  m_endButton = new QToolButton(this);
  m_endButton->setIcon(style()->standardIcon(QStyle::SP_MediaSkipForward));
  m_endButton->setToolTip(tr("Go to the newest step (and stay there while the session grows)"));
  m_slider = new QSlider(Qt::Horizontal, this);
  m_slider->setToolTip(tr("Evaluation step shown by the density views"));
  m_label = new QLabel(this);
  m_label->setMinimumWidth(
    m_label->fontMetrics().horizontalAdvance(QStringLiteral("step 000000 of 000000")));

  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(6, 2, 6, 2);
  layout->addWidget(new QLabel(tr("Replay"), this));
  layout->addWidget(m_playButton);
  layout->addWidget(m_slider, 1);
  layout->addWidget(m_endButton);
  layout->addWidget(m_label);

  m_playTimer.setInterval(kFrameIntervalMs);
  connect(&m_playTimer, &QTimer::timeout, this, &TimelineBar::advance);
  connect(m_playButton, &QToolButton::clicked, this, [this] { isPlaying() ? pause() : play(); });
  connect(m_endButton, &QToolButton::clicked, this, [this] {
    pause();
    if (!m_steps.empty()) {
      setStep(m_steps.back());
    }
  });
  connect(m_slider, &QSlider::valueChanged, this, [this](int index) {
    showPosition(index);
    emit stepChosen(currentStep());
  });
  setSteps({});
}

void TimelineBar::setSteps(const std::vector<std::int64_t>& steps)
{
  const bool following = atEnd();
  const std::int64_t current = currentStep();
  m_steps = steps;
  const QSignalBlocker blocker(m_slider);
  m_slider->setRange(0, std::max(0, static_cast<int>(m_steps.size()) - 1));
  setEnabled(!m_steps.empty());

  int index = static_cast<int>(m_steps.size()) - 1;
  if (!following) {
    const auto it = std::lower_bound(m_steps.begin(), m_steps.end(), current);
    index = static_cast<int>(std::min(it - m_steps.begin(), static_cast<std::ptrdiff_t>(index)));
  }
  m_slider->setValue(std::max(index, 0));
  showPosition(m_slider->value());
}

std::int64_t TimelineBar::currentStep() const
{
  const int index = m_slider->value();
  return index >= 0 && index < static_cast<int>(m_steps.size())
           ? m_steps[static_cast<std::size_t>(index)]
           : -1;
}

bool TimelineBar::atEnd() const
{
  return m_steps.empty() || m_slider->value() >= static_cast<int>(m_steps.size()) - 1;
}

void TimelineBar::setStep(std::int64_t step)
{
  const auto it = std::lower_bound(m_steps.begin(), m_steps.end(), step);
  const int index = static_cast<int>(
    std::min(it - m_steps.begin(), static_cast<std::ptrdiff_t>(m_steps.size()) - 1));
  m_slider->setValue(std::max(index, 0));
}

void TimelineBar::play()
{
  if (m_steps.empty()) {
    return;
  }
  if (atEnd()) {
    m_slider->setValue(0); // replay from the start
  }
  m_playButton->setIcon(style()->standardIcon(QStyle::SP_MediaPause));
  m_playTimer.start();
}

void TimelineBar::pause()
{
  m_playTimer.stop();
  m_playButton->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
}

void TimelineBar::advance()
{
  if (atEnd()) {
    pause();
    return;
  }
  m_slider->setValue(m_slider->value() + 1);
}

void TimelineBar::showPosition(int index)
{
  m_label->setText(
    m_steps.empty()
      ? tr("no steps")
      : tr("step %1 of %2").arg(m_steps[static_cast<std::size_t>(index)]).arg(m_steps.back()));
}

} // namespace gfm::ui

#include "moc_timeline_bar.cpp"
