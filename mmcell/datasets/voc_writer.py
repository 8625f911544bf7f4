"""Pascal VOC annotation files, as LabelImg writes them and mmdet's ``VOCDataset`` reads them."""
import xml.etree.ElementTree as ET


def voc_xml(filename, shape, boxes, labels):
    """One image's VOC annotation as XML text.

    Args:
        filename (str): The image's file name (``<filename>``).
        shape (tuple[int, int, int]): Image (height, width, channels).
        boxes (Sequence[Sequence[float]]): ``(x1, y1, x2, y2)`` in 0-based pixel corners.
        labels (Sequence[str]): Class name per box.

    Returns:
        str: The ``<annotation>`` document. VOC pixels are 1-based and inclusive, as LabelImg
        writes them: a box covering 0-based pixels ``x1 .. x2 - 1`` is written as
        ``xmin = x1 + 1``, ``xmax = x2``. (mmdet's ``VOCDataset`` subtracts 1 from all four on
        reading, so it sees ``(x1, y1, x2 - 1, y2 - 1)``.)
    """
    root = ET.Element('annotation')
    ET.SubElement(root, 'filename').text = filename
    size = ET.SubElement(root, 'size')
    for key, value in zip(('height', 'width', 'depth'), shape):
        ET.SubElement(size, key).text = str(value)
    for box, label in zip(boxes, labels):
        obj = ET.SubElement(root, 'object')
        ET.SubElement(obj, 'name').text = label
        ET.SubElement(obj, 'difficult').text = '0'
        bnd = ET.SubElement(obj, 'bndbox')
        for key, value in zip(('xmin', 'ymin', 'xmax', 'ymax'),
                              (box[0] + 1, box[1] + 1, box[2], box[3])):
            ET.SubElement(bnd, key).text = str(int(round(value)))
    return ET.tostring(root, encoding='unicode')
