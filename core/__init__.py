"""What the web app and the workers share: settings, the database, secrets, metrics, the domain, the import
pipeline, the progress-event contract, cache generations and the job lifecycle. Imports neither ``webapp`` nor
``jobs``."""
