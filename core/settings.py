"""The one place configuration is read: environment, `.env`, and Streamlit's `secrets.toml`.

Nothing else in the project reads `os.environ`. `core` never imports streamlit, so Streamlit secrets are read here
straight from `.streamlit/secrets.toml` (the same file `st.secrets` reads).
"""

from __future__ import annotations

import json
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FACE_LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
# face-api's expression network as ONNX, written by scripts/convert_faceapi.py (see models/faceapi/SOURCE.json).
FACEAPI_MODEL_SHA256 = "73abab242f23102079d841bb7b6f0c15a39906b7e342258800b651fae4e137b1"
_PLACEHOLDER_SECRETS = {"changeme", "change-me", "your-api-key", "your_api_key", "xxx", "todo", "none", "placeholder"}


class _StreamlitSecretsSource(PydanticBaseSettingsSource):
    """Reads flat keys from `.streamlit/secrets.toml` in the working directory or the project root."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        for folder in (Path.cwd(), PROJECT_ROOT):
            path = folder / ".streamlit" / "secrets.toml"
            if path.is_file():
                try:
                    self._data = {k.lower(): v for k, v in tomllib.loads(path.read_text()).items()}
                except (OSError, tomllib.TOMLDecodeError):
                    self._data = {}
                break

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        names = [field_name]
        if isinstance(field.validation_alias, AliasChoices):
            names += [str(c) for c in field.validation_alias.choices]
        for name in names:
            if name.lower() in self._data:
                return self._data[name.lower()], name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                out[name] = value
        return out


class Settings(BaseSettings):
    """Expression Studio configuration. Every field can be set as an environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    data_root: Path = Field(default=PROJECT_ROOT / "data", description="Images, database and exports live here.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_root>/studio.db. PostgreSQL works too."
    )
    models_dir: Path = Field(default=PROJECT_ROOT / "models", description="Model registry root.")
    face_landmarker_path: Path = Field(default=PROJECT_ROOT / "models" / "face_landmarker.task")
    face_landmarker_sha256: str = FACE_LANDMARKER_SHA256
    faceapi_model_path: Path = Field(default=PROJECT_ROOT / "models" / "faceapi" / "face_expression.onnx")
    faceapi_model_sha256: str = FACEAPI_MODEL_SHA256

    gemini_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("gemini_api_key", "GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    gemini_base_url: str | None = Field(default=None, description="Override the Gemini endpoint (tests, proxies).")
    gemini_vertex: bool = False
    gemini_image_model: str = "gemini-2.5-flash-image"
    gemini_label_model: str = "gemini-2.5-flash"
    gemini_concurrency: int = Field(default=8, ge=1, le=256)
    gemini_rpm: int = Field(default=60, ge=1, description="Requests per minute the limiter allows.")
    gemini_timeout_s: float = Field(default=60.0, gt=0)
    gemini_max_retries: int = Field(default=4, ge=0)

    extract_workers: int = Field(default=0, ge=0, description="Worker processes for extraction; 0 means one per core.")
    max_image_side: int = Field(default=1600, ge=128, description="Larger images are downscaled before detection.")
    resnet_weights_path: Path | None = Field(default=None, description="Local ImageNet ResNet-50 weights file.")

    ice_servers: list[dict[str, Any]] = Field(
        default_factory=list, description='WebRTC ICE servers, e.g. [{"urls": ["stun:stun.example.org:3478"]}].'
    )
    api_cors_origins: list[str] = Field(default_factory=list)
    api_max_upload_mb: float = Field(default=8.0, gt=0)
    log_level: str = "INFO"

    auth_mode: Literal["local", "team"] = Field(
        default="local", description="local: one implicit user (laptop use); team: OIDC sign-in and roles required."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, _StreamlitSecretsSource(settings_cls))

    @field_validator("gemini_api_key")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value().strip()
        if not raw:
            return None
        if raw.lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("GEMINI_API_KEY is a placeholder; set a real key or leave it unset")
        return SecretStr(raw)

    @field_validator("ice_servers", "api_cors_origins", mode="before")
    @classmethod
    def _parse_json_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return []
            if value.startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_root / 'studio.db'}"

    @property
    def images_dir(self) -> Path:
        return self.data_root / "images"

    @property
    def exports_dir(self) -> Path:
        return self.data_root / "exports"

    @property
    def team_mode(self) -> bool:
        """Sign-in, roles, import roots and API keys apply (a shared server), rather than one local user."""
        return self.auth_mode == "team"

    @property
    def has_gemini_key(self) -> bool:
        return self.gemini_api_key is not None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
