"""The running program: configuration, i18n, the Telegram runtimes, jobs and the command line."""
