#include "ui/log_view.h"

#include <QComboBox>
#include <QDateTime>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace gfm::ui {
namespace {

/** Severity rank, debug lowest; QtMsgType's own numbering puts info after critical. */
int severity(int type)
{
  switch (type) {
    case QtDebugMsg:
      return 0;
    case QtInfoMsg:
      return 1;
    case QtWarningMsg:
      return 2;
    default:
      return 3;
  }
}

QString levelName(int type)
{
  switch (type) {
    case QtDebugMsg:
      return QStringLiteral("debug");
    case QtInfoMsg:
      return QStringLiteral("info");
    case QtWarningMsg:
      return QStringLiteral("warning");
    case QtCriticalMsg:
      return QStringLiteral("critical");
    default:
      return QStringLiteral("fatal");
  }
}

} // namespace

LogBus* LogBus::instance()
{
  static LogBus* bus = new LogBus;
  return bus;
}

void LogBus::post(QtMsgType type, const QString& category, const QString& message)
{
  emit messagePosted(static_cast<int>(type), category, message);
}

LogView::LogView(QWidget* parent)
  : QWidget(parent)
{
  m_text = new QPlainTextEdit(this);
  m_text->setReadOnly(true);
  m_text->setMaximumBlockCount(kMaxLines);
  m_text->setLineWrapMode(QPlainTextEdit::NoWrap);
  QFont mono(QStringLiteral("DejaVu Sans Mono"));
  mono.setStyleHint(QFont::Monospace);
  mono.setPointSizeF(8.5);
  m_text->setFont(mono);

  m_category = new QComboBox(this);
  m_category->addItems({ tr("All categories"),
                         QStringLiteral("gfm.core"),
                         QStringLiteral("gfm.train"),
                         QStringLiteral("gfm.session"),
                         QStringLiteral("gfm.ui"),
                         QStringLiteral("gfm.cli") });
  m_category->setToolTip(tr("Show only new messages of one logging category"));
  m_level = new QComboBox(this);
  m_level->addItems({ tr("Debug and above"), tr("Info and above"), tr("Warnings and errors") });
  m_level->setCurrentIndex(1);
  m_level->setToolTip(tr("Lowest severity of the new messages shown"));
  auto* clear = new QPushButton(tr("Clear"), this);
  connect(clear, &QPushButton::clicked, m_text, &QPlainTextEdit::clear);

  auto* controls = new QHBoxLayout;
  controls->addWidget(m_category);
  controls->addWidget(m_level);
  controls->addStretch(1);
  controls->addWidget(clear);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  layout->addWidget(m_text, 1);

  connect(LogBus::instance(), &LogBus::messagePosted, this, &LogView::append);
}

QString LogView::text() const
{
  return m_text->toPlainText();
}

bool LogView::accepts(int type, const QString& category) const
{
  if (severity(type) < m_level->currentIndex()) {
    return false;
  }
  return m_category->currentIndex() == 0 || category == m_category->currentText();
}

void LogView::append(int type, const QString& category, const QString& message)
{
  if (!accepts(type, category)) {
    return;
  }
  const QString time = QTime::currentTime().toString(QStringLiteral("HH:mm:ss.zzz"));
  m_text->appendPlainText(
    QStringLiteral("%1 %2 %3: %4").arg(time, levelName(type).leftJustified(8), category, message));
}

} // namespace gfm::ui

#include "moc_log_view.cpp"
