"""Importing images into the store: uploads, zip archives, folders, manifests and YOLO datasets.

Labels come from the seed's file-name tag (`happy_0042.jpg`), else the parent folder's name, else nothing (the image
goes to the unlabeled pool). One bad file never stops an import: it is listed in the report with its reason. Every
image is decoded whole before it is stored (a truncated file is refused here, not at extraction), after its header's
pixel count passed the limit; zip members are read in bounded chunks; paths are resolved before they are read.

The parts live in this package: `items` (one file to import, the report, the loop that stores files), `files`
(folders and manifests, reading one file inside its folder), `zips` (archives, read in bounded chunks) and
`yolo_crops` (a YOLO dataset's boxes as face crops). Callers import them all from `core.ingest`.
"""

from core.ingest.files import (
    OUTSIDE_FOLDER,
    check_import_target,
    image_files,
    import_folder,
    import_manifest,
    list_folder_images,
    read_file,
)
from core.ingest.items import ImportReport, Incoming, import_items, is_image_name
from core.ingest.yolo_crops import import_yolo
from core.ingest.zips import ESCAPING_MEMBER, MAX_ZIP_MEMBERS, ZipLimits, import_zip, iter_zip, safe_extract_zip

__all__ = [
    "ESCAPING_MEMBER",
    "MAX_ZIP_MEMBERS",
    "OUTSIDE_FOLDER",
    "ImportReport",
    "Incoming",
    "ZipLimits",
    "check_import_target",
    "image_files",
    "import_folder",
    "import_items",
    "import_manifest",
    "import_yolo",
    "import_zip",
    "is_image_name",
    "iter_zip",
    "list_folder_images",
    "read_file",
    "safe_extract_zip",
]
