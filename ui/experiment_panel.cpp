#include "ui/experiment_panel.h"

#include "ui/logging.h"

#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QThread>
#include <QVBoxLayout>

#include <array>

namespace gfm::ui {
namespace {

/** One editable config key. */
struct FieldSpec
{
  const char* key;
  const char* label;
  bool integer;
  const char* help;
};

const std::array<FieldSpec, 8> kFields = { {
  { "env.dim", "Dimensions D", true, "Number of coordinates of the hypergrid, D" },
  { "env.height", "Height H", true, "Cells per coordinate; the grid has H^D states" },
  { "env.r0", "Reward R0", false, "Background reward: 0.1 is the easy grid, 1e-4 the hard one" },
  { "training.steps", "Steps", true, "Optimiser steps of every part" },
  { "training.batch", "Batch", true, "Trajectories per optimiser step" },
  { "training.lr", "Learning rate", false, "Adam learning rate of the policy networks" },
  { "training.off_policy_ratio",
    "Off-policy share",
    false,
    "Share of each mixture part's batch sampled backward from known in-part states, in [0, 1]" },
  { "eval.every", "Evaluate every", true, "Steps between exact evaluations (snapshots)" },
} };

QJsonValue valueAt(const QJsonObject& object, const QString& dotted)
{
  const QStringList keys = dotted.split(QLatin1Char('.'));
  QJsonObject current = object;
  for (int i = 0; i + 1 < keys.size(); ++i) {
    current = current.value(keys[i]).toObject();
  }
  return current.value(keys.last());
}

void setValueAt(QJsonObject& object, const QStringList& keys, int depth, const QJsonValue& value)
{
  if (depth + 1 == keys.size()) {
    object.insert(keys[depth], value);
    return;
  }
  QJsonObject child = object.value(keys[depth]).toObject();
  setValueAt(child, keys, depth + 1, value);
  object.insert(keys[depth], child);
}

void markInvalid(QLineEdit* edit, bool invalid)
{
  if (edit->property("invalid").toBool() == invalid) {
    return;
  }
  edit->setProperty("invalid", invalid);
  edit->setStyleSheet(invalid ? QStringLiteral("QLineEdit { background: #ffd6d6; "
                                               "border: 1px solid #c62828; }")
                              : QString());
}

/** Picker entries of sessions carry their config under this role; files carry only a path. */
constexpr int kConfigRole = Qt::UserRole + 1;

} // namespace

ExperimentPanel::ExperimentPanel(QWidget* parent)
  : QWidget(parent)
{
  m_configBox = new QComboBox(this);
  m_configBox->setToolTip(tr("Configs shipped with gflowmix (resources/experiments)"));
  for (const QString& dir : configDirectories()) {
    const QFileInfoList files =
      QDir(dir).entryInfoList({ QStringLiteral("*.json") }, QDir::Files, QDir::Name);
    for (const QFileInfo& file : files) {
      m_configBox->addItem(file.completeBaseName(), file.absoluteFilePath());
    }
    if (!files.isEmpty()) {
      break;
    }
  }
  auto* open = new QPushButton(tr("Open…"), this);
  open->setToolTip(tr("Load an experiment config (JSON) from a file"));
  auto* pick = new QHBoxLayout;
  pick->addWidget(m_configBox, 1);
  pick->addWidget(open);

  m_nameLabel = new QLabel(this);
  m_nameLabel->setWordWrap(true);
  m_nameLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* form = new QFormLayout;
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  for (const FieldSpec& spec : kFields) {
    auto* edit = new QLineEdit(this);
    edit->setToolTip(tr(spec.help));
    edit->setProperty("invalid", false);
    form->addRow(tr(spec.label), edit);
    m_fields.emplace(QString::fromLatin1(spec.key), edit);
    connect(edit, &QLineEdit::textEdited, this, &ExperimentPanel::revalidate);
  }

  m_threads = new QSpinBox(this);
  m_threads->setRange(1, std::max(1, QThread::idealThreadCount() * 4));
  m_threads->setValue(std::max(1, QThread::idealThreadCount()));
  m_threads->setToolTip(tr("Worker threads; each trains the least advanced free part next"));
  form->addRow(tr("Threads"), m_threads);

  m_device = new QComboBox(this);
  m_device->addItem(tr("CPU"));
  m_device->addItem(tr("CUDA (not available in this build)"));
  if (auto* model = qobject_cast<QStandardItemModel*>(m_device->model())) {
    model->item(1)->setEnabled(false);
  }
  m_device->setToolTip(tr("This build's LibTorch is CPU-only"));
  form->addRow(tr("Device"), m_device);

  m_record = new QCheckBox(tr("Record a session"), this);
  m_record->setToolTip(tr("Write metrics, densities and checkpoints to a .gflowmix file that "
                          "gflowmix and gflowmix-cli can replay, evaluate and resume"));
  m_sessionPath = new QLineEdit(this);
  m_sessionPath->setPlaceholderText(tr("a new dated file in Documents/gflowmix"));
  m_sessionPath->setEnabled(false);
  auto* browse = new QPushButton(tr("…"), this);
  browse->setToolTip(tr("Choose the session file"));
  browse->setEnabled(false);
  browse->setMaximumWidth(32);
  auto* sessionRow = new QHBoxLayout;
  sessionRow->addWidget(m_sessionPath, 1);
  sessionRow->addWidget(browse);
  connect(m_record, &QCheckBox::toggled, m_sessionPath, &QWidget::setEnabled);
  connect(m_record, &QCheckBox::toggled, browse, &QWidget::setEnabled);
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(
      this, tr("Record the session to"), sessionPath(), tr("gflowmix sessions (*.gflowmix)"));
    if (!path.isEmpty()) {
      m_sessionPath->setText(path);
    }
  });

  m_error = new QLabel(this);
  m_error->setWordWrap(true);
  m_error->setStyleSheet(QStringLiteral("color: #b71c1c;"));
  m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);

  m_start = new QPushButton(tr("Start"), this);
  m_pause = new QPushButton(tr("Pause"), this);
  m_stop = new QPushButton(tr("Stop"), this);
  m_start->setToolTip(tr("Train every run of the experiment"));
  m_pause->setToolTip(tr("Pause or resume the workers between chunks"));
  m_stop->setToolTip(tr("Stop the workers after their current chunk"));
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(m_start);
  buttons->addWidget(m_pause);
  buttons->addWidget(m_stop);

  auto* box = new QGroupBox(tr("Settings"), this);
  box->setLayout(form);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->addLayout(pick);
  layout->addWidget(m_nameLabel);
  layout->addWidget(box);
  layout->addWidget(m_record);
  layout->addLayout(sessionRow);
  layout->addWidget(m_error);
  layout->addLayout(buttons);
  layout->addStretch(1);

  connect(open, &QPushButton::clicked, this, &ExperimentPanel::openFile);
  connect(m_configBox, qOverload<int>(&QComboBox::activated), this, &ExperimentPanel::pickShipped);
  connect(m_start, &QPushButton::clicked, this, &ExperimentPanel::startRequested);
  connect(m_stop, &QPushButton::clicked, this, &ExperimentPanel::stopRequested);
  connect(m_pause, &QPushButton::clicked, this, [this] {
    if (m_state == State::Paused) {
      emit resumeRequested();
    } else {
      emit pauseRequested();
    }
  });

  setState(State::Idle);
  revalidate();
}

QStringList ExperimentPanel::configDirectories()
{
  const QString appDir = QCoreApplication::applicationDirPath();
  QStringList dirs;
  const QString fromEnv = qEnvironmentVariable("GFLOWMIX_EXPERIMENTS");
  if (!fromEnv.isEmpty()) {
    dirs << fromEnv;
  }
  // Build tree (build/app/gflowmix), then an installed prefix (prefix/bin/gflowmix).
  dirs << QDir::cleanPath(appDir + QStringLiteral("/../../resources/experiments"))
       << QDir::cleanPath(appDir + QStringLiteral("/../share/gflowmix/experiments"));
  QStringList existing;
  for (const QString& dir : dirs) {
    if (QFileInfo(dir).isDir()) {
      existing << dir;
    }
  }
  return existing;
}

void ExperimentPanel::setConfig(const QJsonObject& config, const QString& source)
{
  QString parseMessage;
  const std::optional<core::ExperimentSpec> spec =
    core::parseExperiment(config, source, &parseMessage);
  m_config = spec ? spec->json : config;
  m_path = source;
  // A session is not a config file to reload: its picker entry keeps the config itself.
  showSource(tr("%1 (session)").arg(QFileInfo(source).completeBaseName()), source);
  m_configBox->setItemData(m_configBox->currentIndex(), m_config, kConfigRole);
  populateFields();
  revalidate();
}

bool ExperimentPanel::loadConfig(const QString& path, QString* error)
{
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) {
    if (error) {
      *error = QStringLiteral("%1: %2").arg(path, file.errorString());
    }
    return false;
  }
  QJsonParseError parseError;
  const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
  if (!document.isObject()) {
    if (error) {
      *error = QStringLiteral("%1: not a JSON object (%2 at offset %3)")
                 .arg(path, parseError.errorString())
                 .arg(parseError.offset);
    }
    return false;
  }

  // Prefer the parser's copy: it writes out every default, so each field has a value.
  QString parseMessage;
  const std::optional<core::ExperimentSpec> spec =
    core::parseExperiment(document.object(), path, &parseMessage);
  m_config = spec ? spec->json : document.object();
  m_path = path;

  showSource(QFileInfo(path).completeBaseName(), path);
  populateFields();
  revalidate();
  qCInfo(lcUi) << "config loaded:" << path;
  emit configLoaded(path);
  return true;
}

void ExperimentPanel::showSource(const QString& label, const QString& path)
{
  const QString absolute = QFileInfo(path).absoluteFilePath();
  int index = m_configBox->findData(absolute);
  if (index < 0) {
    m_configBox->addItem(label, absolute);
    index = m_configBox->count() - 1;
  }
  m_configBox->setCurrentIndex(index);
}

void ExperimentPanel::populateFields()
{
  const QString name = m_config.value(QStringLiteral("name")).toString();
  m_nameLabel->setText(name.isEmpty() ? QFileInfo(m_path).fileName()
                                      : tr("<b>%1</b>").arg(name.toHtmlEscaped()));
  m_nameLabel->setToolTip(m_path);
  for (const auto& [key, edit] : m_fields) {
    const QJsonValue value = valueAt(m_config, key);
    edit->setText(value.isDouble() ? QString::number(value.toDouble(), 'g', 10)
                                   : value.toVariant().toString());
  }
}

QJsonObject ExperimentPanel::editedConfig() const
{
  QJsonObject config = m_config;
  for (const FieldSpec& spec : kFields) {
    const QString key = QString::fromLatin1(spec.key);
    const QString text = m_fields.at(key)->text().trimmed();
    bool ok = false;
    QJsonValue value;
    if (spec.integer) {
      const qlonglong number = text.toLongLong(&ok);
      value = ok ? QJsonValue(number) : QJsonValue(text);
    } else {
      const double number = text.toDouble(&ok);
      value = ok ? QJsonValue(number) : QJsonValue(text);
    }
    setValueAt(config, key.split(QLatin1Char('.')), 0, value);
  }
  return config;
}

std::optional<core::ExperimentSpec> ExperimentPanel::validatedSpec() const
{
  if (!m_valid) {
    return std::nullopt;
  }
  QString error;
  std::optional<core::ExperimentSpec> spec = core::parseExperiment(editedConfig(), m_path, &error);
  return spec;
}

QString ExperimentPanel::errorText() const
{
  return m_errorText;
}

QLineEdit* ExperimentPanel::field(const QString& key) const
{
  const auto it = m_fields.find(key);
  return it == m_fields.end() ? nullptr : it->second;
}

bool ExperimentPanel::isFieldInvalid(const QString& key) const
{
  const QLineEdit* edit = field(key);
  return edit && edit->property("invalid").toBool();
}

int ExperimentPanel::threads() const
{
  return m_threads->value();
}

void ExperimentPanel::setThreads(int threads)
{
  m_threads->setValue(threads);
}

bool ExperimentPanel::recordSession() const
{
  return m_record->isChecked();
}

QString ExperimentPanel::sessionPath() const
{
  const QString typed = m_sessionPath->text().trimmed();
  if (!typed.isEmpty()) {
    return typed;
  }
  const QString folder =
    QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation) + "/gflowmix";
  QString name = m_config.value(QStringLiteral("name")).toString();
  if (name.isEmpty()) {
    name = QStringLiteral("session");
  }
  return QStringLiteral("%1/%2-%3.gflowmix")
    .arg(folder, name, QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
}

void ExperimentPanel::setSessionPath(const QString& path)
{
  m_record->setChecked(true);
  m_sessionPath->setText(path);
}

bool ExperimentPanel::canStart() const
{
  return m_valid && m_state == State::Idle;
}

void ExperimentPanel::revalidate()
{
  QString error;
  QLineEdit* culprit = nullptr;

  // Empty fields before any config is loaded are not mistakes: nothing is marked.
  for (const FieldSpec& spec : kFields) {
    if (m_config.isEmpty()) {
      break;
    }
    QLineEdit* edit = m_fields.at(QString::fromLatin1(spec.key));
    // Text that is not a number never reaches the parser: its message would name a type,
    // not the field the user typed into.
    bool ok = false;
    const QString text = edit->text().trimmed();
    if (spec.integer) {
      text.toLongLong(&ok);
    } else {
      text.toDouble(&ok);
    }
    markInvalid(edit, !ok);
    if (!ok && !culprit) {
      culprit = edit;
      error = tr("%1: “%2” is not %3")
                .arg(QString::fromLatin1(spec.key),
                     text,
                     spec.integer ? tr("an integer") : tr("a number"));
    }
  }

  if (m_config.isEmpty()) {
    error = tr("Pick a config, or open one with Open….");
  } else if (!culprit) {
    core::parseExperiment(editedConfig(), QFileInfo(m_path).fileName(), &error);
    for (const auto& [key, edit] : m_fields) {
      const bool named =
        !error.isEmpty() && error.contains(QRegularExpression(
                              QStringLiteral("\\b%1\\b").arg(QRegularExpression::escape(key))));
      markInvalid(edit, named);
    }
  }

  m_valid = error.isEmpty();
  m_errorText = error;
  m_error->setText(error);
  m_error->setVisible(!error.isEmpty());
  setState(m_state);
}

void ExperimentPanel::setState(State state)
{
  m_state = state;
  const bool active = state == State::Running || state == State::Paused;
  m_start->setEnabled(state == State::Idle && m_valid);
  m_pause->setEnabled(active);
  m_pause->setText(state == State::Paused ? tr("Resume") : tr("Pause"));
  m_stop->setEnabled(active);
  const bool editable = state == State::Idle;
  m_configBox->setEnabled(editable);
  for (const auto& [key, edit] : m_fields) {
    edit->setReadOnly(!editable);
  }
  m_threads->setEnabled(editable);
  m_record->setEnabled(editable);
  m_sessionPath->setReadOnly(!editable);
}

void ExperimentPanel::openFile()
{
  const QString start = m_path.isEmpty() ? QDir::homePath() : QFileInfo(m_path).absolutePath();
  const QString path = QFileDialog::getOpenFileName(
    this, tr("Open experiment config"), start, tr("Experiment configs (*.json)"));
  if (path.isEmpty()) {
    return;
  }
  QString error;
  if (!loadConfig(path, &error)) {
    m_error->setText(error);
    m_error->setVisible(true);
    qCWarning(lcUi).noquote() << error;
  }
}

void ExperimentPanel::pickShipped(int index)
{
  const QString path = m_configBox->itemData(index).toString();
  if (path.isEmpty() || path == QFileInfo(m_path).absoluteFilePath()) {
    return;
  }
  const QVariant kept = m_configBox->itemData(index, kConfigRole);
  if (kept.isValid()) {
    setConfig(kept.toJsonObject(), path);
    emit configLoaded(path);
    return;
  }
  QString error;
  if (!loadConfig(path, &error)) {
    m_error->setText(error);
    m_error->setVisible(true);
    qCWarning(lcUi).noquote() << error;
  }
}

} // namespace gfm::ui

#include "moc_experiment_panel.cpp"
